import SonicCore
import SonicWire

/// How search results are shown to people and to programs.
public enum ResultFormatting {
    /// One aligned line per result: name (with how many other names the same content is
    /// shared under), size, the start of the file's SHA-256 (what `sha256sum` prints, and
    /// what `--hash` takes), peer count. With `width`, names are cut in the middle so a row
    /// fits; `--json` output always has the full names.
    public static func table(_ results: [SearchResult], width: Int? = nil) -> [String] {
        let others = results.map { r in
            [ByteCount(r.size).description, String(r.fileHash.hex.prefix(12)), "\(r.peers.count)"]
        }
        var nameRoom = Int.max
        if let width {
            let widest = (0..<3).map { i in others.map { $0[i].count }.max() ?? 0 }
            let used = zip(widest, ["SIZE", "SHA-256", "PEERS"]).reduce(0) { $0 + max($1.0, $1.1.count) + 2 }
            nameRoom = max(16, width - used)
        }
        let rows = zip(results, others).map { r, other in
            [TerminalText.shortened(displayName(r), toColumns: nameRoom)] + other
        }
        return alignedTable(header: ["NAME", "SIZE", "SHA-256", "PEERS"], rows: rows, rightAligned: [1, 3])
    }

    /// The name shown for a result: its first name, and how many others it has.
    public static func displayName(_ r: SearchResult) -> String {
        switch r.names.count {
        case 0, 1: r.name
        case 2: r.name + " (+1 other name)"
        default: r.name + " (+\(r.names.count - 1) other names)"
        }
    }

    /// A JSON object per result, as `sonic-search --json` prints them.
    public static func json(_ r: SearchResult) -> JSONValue {
        .object([
            ("name", .string(r.name)),
            ("names", .array(r.names.map(JSONValue.string))),
            ("size", .number(Double(r.size))),
            ("content_id", .string(r.contentID.hex)),
            ("sha256", .string(r.fileHash.hex)),
            ("peers", .array(r.peers.map { .string($0.description) })),
            // Beside each peer, the id its TLS certificate proved to the index (null: unknown).
            ("peer_ids", .array(r.peers.indices.map { i in r.peerID(at: i).map { .string($0.description) } ?? .null })),
        ])
    }

    public static func alignedTable(header: [String], rows: [[String]], rightAligned: Set<Int> = []) -> [String] {
        let all = [header] + rows
        var widths = Array(repeating: 0, count: header.count)
        for row in all {
            for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) }
        }
        return all.map { row in
            row.enumerated().map { i, cell in
                let pad = String(repeating: " ", count: widths[i] - cell.count)
                if i == row.count - 1 && !rightAligned.contains(i) { return cell }
                return rightAligned.contains(i) ? pad + cell : cell + pad
            }.joined(separator: "  ")
        }
    }
}
