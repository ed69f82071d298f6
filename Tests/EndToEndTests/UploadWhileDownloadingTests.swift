import Foundation
import NIOCore
import SonicCore
import SonicTestSupport
import SonicWire
import Testing

/// `sonic-get` serves the pieces it has verified while it downloads (swarm feature).
@Suite(.serialized, .timeLimit(.minutes(2)))
struct UploadWhileDownloadingTests {
    @Test func aDownloaderServesItsVerifiedPiecesToSwarmPeersWhileItDownloads() async throws {
        let size = 4 << 20
        let bytes = Harness.randomBytes(count: size, seed: 31)
        let pieceSize = Manifest.pieceSize(forFileSize: UInt64(size))
        let original = try Harness.sharedFolder("growing.bin", bytes)
        let out = try Harness.temporaryDirectory("get")
        defer { [original, out].forEach { try? FileManager.default.removeItem(at: $0) } }
        let net = try await TestNetwork()
        try await net.run {
            // A slow seeder, so that the download is still running while the test asks.
            try await net.addSeeder(folder: original, extra: ["--max-upload-rate", "1MiB"])
            _ = try await net.waitForSearch([], until: { !$0.isEmpty })
            // `--port` chooses where it serves.
            let port = try freeLoopbackPort()
            let get = try Program("sonic-get", ["growing.bin", "--json", "--log-level", "info", "--port", "\(port)",
                                                "--index", net.indexAddress.description], environment: net.environment, directory: out)
            var upload: Endpoint?
            try await Harness.waitUntil("sonic-get says where it serves") {
                upload = Self.servingAddress(in: get.stderr)
                return upload != nil
            }
            #expect(upload?.port == port)
            let client = try RawClient(try await net.plainDoor(to: try #require(upload)))
            _ = client.send(.hello(Hello(role: .client, features: [.swarm], agent: "swarm-test")))
            guard case .welcome(let welcome) = client.receive() else { Issue.record("no WELCOME"); return }
            #expect(welcome.features.contains(.swarm))

            let manifest = ManifestBuilder.manifest(of: bytes, pieceSize: pieceSize)
            let id = manifest.contentID
            // Until sonic-get has the manifest itself, it holds nothing of this content.
            var answer: Message?
            try await Harness.waitUntil("sonic-get offers the download") {
                _ = client.send(.manifestRequest(id))
                answer = client.receive()
                if case .error(let e) = answer, e.code == .notFound { return false }
                return true
            }
            #expect(answer == .manifest(id, manifest.canonicalEncoding))
            guard case .bitfield(_, let holdings) = client.receive() else { Issue.record("no BITFIELD"); return }
            #expect(holdings.pieces.count < manifest.pieceCount, "the download was already complete")
            // The first piece it holds, now or as soon as a HAVE says so.
            var held = holdings.pieces.first
            while held == nil, case .have(let haveID, let piece)? = client.receive() {
                #expect(haveID == id)
                held = Int(piece)
            }
            let piece = try #require(held)
            let range = manifest.range(ofPiece: piece)
            _ = client.send(.obtainRange(RangeRequest(requestID: 9, contentID: id, offset: range.lowerBound,
                                                      length: range.upperBound - range.lowerBound)))
            var received: [UInt8] = []
            reading: while let message = client.receive() {
                switch message {
                case .data(let block):
                    #expect(block.requestID == 9)
                    received += Array(block.payload.readableBytesView)
                case .have: continue
                case .end(let requestID):
                    #expect(requestID == 9)
                    break reading
                default:
                    Issue.record("unexpected \(message)")
                    break reading
                }
            }
            #expect(received == Array(bytes[Int(range.lowerBound)..<Int(range.upperBound)]))

            #expect(try await get.waitForExit() == 0, "stderr: \(get.stderr)")
            #expect(try Harness.sha256(ofFile: out.appendingPathComponent("growing.bin")) == SHA256Hash.of(bytes).hex)
            let json = get.stdout.split(separator: "\n").last.flatMap {
                try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
            }
            let uploaded = json?["upload"] as? [String: Any]
            #expect(uploaded?["address"] as? String == upload?.description)
            #expect(uploaded?["bytes"] as? Int == received.count)
        }
    }

    /// A downloader announces what it holds in part on one index session for the whole
    /// download, even when no piece arrives for longer than a heartbeat: a session dropped
    /// between heartbeats would have the index forget it, then greet it again.
    @Test func itsIndexSessionOutlastsSlowPieces() async throws {
        // Two 256 KiB pieces at 64 KiB/s: four seconds without a new piece to announce.
        let bytes = Harness.randomBytes(count: 512 << 10, seed: 34)
        let original = try Harness.sharedFolder("slow.bin", bytes)
        let out = try Harness.temporaryDirectory("get")
        defer { [original, out].forEach { try? FileManager.default.removeItem(at: $0) } }
        let net = try await TestNetwork()
        try await net.run {
            try await net.addSeeder(folder: original, extra: ["--max-upload-rate", "64KiB"])
            _ = try await net.waitForSearch([], until: { !$0.isEmpty })
            let get = try Program("sonic-get", ["slow.bin", "--json", "--log-level", "info",
                                                "--index", net.indexAddress.description], directory: out)
            #expect(try await get.waitForExit() == 0, "stderr: \(get.stderr)")
            #expect(try Harness.sha256(ofFile: out.appendingPathComponent("slow.bin")) == SHA256Hash.of(bytes).hex)
            let port = try #require(Self.servingAddress(in: get.stderr)).port
            let greetings = net.index.stderr.split(separator: "\n").filter {
                $0.contains(" hello") && $0.contains("serves=127.0.0.1:\(port)")
            }
            #expect(greetings.count == 1, "\(greetings)")
        }
    }

    @Test func aSeederThatAppearsDuringTheDownloadIsUsed() async throws {
        let bytes = Harness.randomBytes(count: 6 << 20, seed: 33)
        let folders = try SwarmTests.sharedFolders(2, name: "latecomer.bin", bytes: bytes)
        let out = try Harness.temporaryDirectory("get")
        defer { (folders + [out]).forEach { try? FileManager.default.removeItem(at: $0) } }
        let net = try await TestNetwork()
        try await net.run {
            // Alone, the first seeder would need six seconds.
            try await net.addSeeder(folder: folders[0], extra: ["--max-upload-rate", "1MiB"])
            try await SwarmTests.waitForPeers(net, name: "latecomer.bin", count: 1)
            let get = try Program("sonic-get", ["latecomer.bin", "--json", "--discover-interval", "200ms",
                                                "--index", net.indexAddress.description], directory: out)
            let late = try await net.addSeeder(folder: folders[1])
            let lateAddress = try await late.listeningAddress()
            #expect(try await get.waitForExit() == 0, "stderr: \(get.stderr)")
            #expect(try Harness.sha256(ofFile: out.appendingPathComponent("latecomer.bin")) == SHA256Hash.of(bytes).hex)
            let json = get.stdout.split(separator: "\n").last.flatMap {
                try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
            }
            let peers = json?["peers"] as? [[String: Any]] ?? []
            let latecomer = peers.first { $0["address"] as? String == lateAddress.description }
            #expect((latecomer?["pieces"] as? Int ?? 0) > 0, "\(peers)")
        }
    }

    /// Nothing is served while downloading with `--no-upload`, nor for a file of one piece:
    /// that is whole as soon as any of it is verified (no server, no index session for it; a
    /// small download's start-up is most of its time).
    @Test(arguments: [(name: "quiet.bin", size: 1 << 20, flags: ["--no-upload"]),
                      (name: "tiny.bin", size: 4 << 10, flags: [])])
    func nothingIsServed(_ name: String, size: Int, flags: [String]) async throws {
        let bytes = Harness.randomBytes(count: size, seed: UInt64(size))
        let original = try Harness.sharedFolder(name, bytes)
        let out = try Harness.temporaryDirectory("get")
        defer { [original, out].forEach { try? FileManager.default.removeItem(at: $0) } }
        let net = try await TestNetwork()
        try await net.run {
            try await net.addSeeder(folder: original)
            _ = try await net.waitForSearch([], until: { !$0.isEmpty })
            let (status, json, program) = try await net.get(name, flags + ["--log-level", "info"], directory: out)
            #expect(status == 0, "stderr: \(program.stderr)")
            #expect(try Harness.sha256(ofFile: out.appendingPathComponent(name)) == SHA256Hash.of(bytes).hex)
            #expect(json?["upload"] is NSNull)
            #expect(Self.servingAddress(in: program.stderr) == nil)
        }
    }

    /// The address in sonic-get's "serving verified pieces" log line.
    static func servingAddress(in log: String) -> Endpoint? {
        guard let line = log.split(separator: "\n").first(where: { $0.contains("serving verified pieces") }),
              let field = line.split(separator: " ").first(where: { $0.hasPrefix("address=") })
        else { return nil }
        return Endpoint(parsing: String(field.dropFirst("address=".count)))
    }
}
