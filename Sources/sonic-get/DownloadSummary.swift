import SonicCLI
import SonicCore
import SonicSeed
import SonicSwarm

/// The `--json` summary of a download (README, "sonic-get --json").
enum DownloadSummary {
    static func json(name: String, path: String, manifest: Manifest, contentID: ContentID,
                     report: SwarmDownload.Report?, failure: CommandError? = nil, forged: Bool = false,
                     uploads: PeerServer? = nil, peerID: PeerID? = nil, refusals: [String] = []) -> JSONValue {
        let peers = report?.peers ?? []
        let complete = failure == nil
        var fields: [(String, JSONValue)] = [
            ("name", .string(name)),
            ("path", .string(path)),
            ("size", .number(Double(manifest.fileSize))),
            // A forged content's claimed SHA-256 is not the hash of any bytes it delivered.
            ("sha256", forged ? .null : .string(manifest.fileHash.hex)),
            ("content_id", .string(contentID.hex)),
            ("complete", .bool(complete)),
            ("seconds", .number(((report?.elapsed.seconds ?? 0) * 1000).rounded() / 1000)),
            ("pieces", .number(Double(manifest.pieceCount))),
            ("piece_size", .number(Double(manifest.pieceSize))),
            ("peers", .array(peers.map { p in
                .object([
                    ("address", .string(p.endpoint.description)),
                    ("bytes", .number(Double(p.fileBytes))),
                    ("pieces", .number(Double(p.pieces))),
                    ("wire_bytes", .number(Double(p.wireBytes))),
                    ("failures", .number(Double(p.failures))),
                    ("banned", .bool(p.banned)),
                    ("error", p.lastError.map(JSONValue.string) ?? .null),
                ])
            })),
            ("wire_bytes", .number(Double(report?.wireBytes ?? 0))),
            ("retried_pieces", .number(Double(report?.retriedPieces ?? 0))),
            ("reused_pieces", .number(Double(report?.reusedPieces ?? 0))),
            // This program's own peer id (null with --tls off), and the peers refused because
            // their certificate did not match the peer id the index gave.
            ("peer_id", peerID.map { .string($0.description) } ?? .null),
            ("refused_peers", .array(refusals.map(JSONValue.string))),
            // What this download served other peers meanwhile (null with --no-upload).
            ("upload", uploads.map { server in
                let totals = server.statistics.totals
                return .object([
                    ("address", .string(server.boundAddress.description)),
                    ("bytes", .number(Double(totals.fileBytes))),
                    ("wire_bytes", .number(Double(totals.wireBytes))),
                ])
            } ?? .null),
        ]
        if let failure, case .object(let error) = failure.json { fields += error }
        return .object(fields)
    }
}
