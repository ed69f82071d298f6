import Foundation
import NIOCore
import SonicCore
import SonicTestSupport
import SonicWire
import Testing

/// Downloaders that start together find each other through the index (partial holders) and
/// trade pieces, so the seeder is not the only source (swarm feature, docs/PROTOCOL.md).
@Suite(.serialized, .timeLimit(.minutes(3)))
struct FlashCrowdTests {
    /// A `sonic-get` of `name` that serves while it downloads, its upload capped.
    static func downloader(_ name: String, net: TestNetwork, directory: URL, extra: [String] = []) throws -> Program {
        try Program("sonic-get", [name, "--json", "--log-level", "info", "--max-upload-rate", "4MiB",
                                  "--discover-interval", "1s", "--index", net.indexAddress.description] + extra,
                    environment: net.environment, directory: directory)
    }

    static func summary(_ program: Program) -> [String: Any]? {
        program.stdout.split(separator: "\n").last.flatMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
    }

    /// The peers a downloader's summary lists, by address: (file bytes, pieces).
    static func received(_ program: Program) -> [String: (bytes: Int, pieces: Int)] {
        var out: [String: (bytes: Int, pieces: Int)] = [:]
        for peer in SwarmTests.peers(summary(program)) {
            guard let address = peer["address"] as? String else { continue }
            out[address] = (peer["bytes"] as? Int ?? 0, peer["pieces"] as? Int ?? 0)
        }
        return out
    }

    @Test func fourDownloadersEachReceivePiecesFromAnotherAndAllFinishIdentical() async throws {
        let bytes = Harness.randomBytes(count: 8 << 20, seed: 41)
        let original = try Harness.sharedFolder("crowd.bin", bytes)
        let outs = try (0..<4).map { try Harness.temporaryDirectory("crowd\($0)") }
        defer { ([original] + outs).forEach { try? FileManager.default.removeItem(at: $0) } }
        let net = try await TestNetwork()
        try await net.run {
            // Alone, the seeder would need 4 × 8 MiB ÷ 2 MiB/s = 16 s.
            try await net.addSeeder(folder: original, extra: ["--max-upload-rate", "2MiB"])
            try await SwarmTests.waitForPeers(net, name: "crowd.bin", count: 1)
            let gets = try outs.map { try Self.downloader("crowd.bin", net: net, directory: $0) }
            var uploadAddresses: [String] = []
            for get in gets {
                try await Harness.waitUntil("sonic-get says where it serves") {
                    UploadWhileDownloadingTests.servingAddress(in: get.stderr) != nil
                }
                uploadAddresses.append(UploadWhileDownloadingTests.servingAddress(in: get.stderr)!.description)
            }
            for get in gets {
                #expect(try await get.waitForExit(timeout: .seconds(90)) == 0, "stderr: \(get.stderr)")
            }
            for out in outs {
                #expect(try Harness.sha256(ofFile: out.appendingPathComponent("crowd.bin")) == SHA256Hash.of(bytes).hex)
            }
            let seeder = net.seederAddresses[0].description
            var receivedFromDownloaders = 0
            for (index, get) in gets.enumerated() {
                let sources = Self.received(get)
                let fromDownloaders = sources.filter { $0.key != seeder && $0.value.pieces > 0 }
                #expect(!fromDownloaders.isEmpty, "downloader \(index) received only from the seeder: \(sources)")
                #expect(Set(fromDownloaders.keys).isSubset(of: Set(uploadAddresses)), "\(sources)")
                receivedFromDownloaders += fromDownloaders.values.reduce(0) { $0 + $1.bytes }
            }
            // What they received from each other, they served (some may have served more: blocks
            // still on the way when a downloader finished). Each summary is written once its
            // upload server has stopped, so it counts every block it sent.
            let served = gets.reduce(0) { total, get in
                total + ((Self.summary(get)?["upload"] as? [String: Any])?["bytes"] as? Int ?? 0)
            }
            #expect(served >= receivedFromDownloaders && receivedFromDownloaders > 0, "\(served) \(receivedFromDownloaders)")
        }
    }

    @Test func aDownloaderKilledHalfwayDoesNotStallTheOthers() async throws {
        let bytes = Harness.randomBytes(count: 4 << 20, seed: 42)
        let manifest = ManifestBuilder.manifest(of: bytes, pieceSize: Manifest.pieceSize(forFileSize: UInt64(bytes.count)))
        let original = try Harness.sharedFolder("quitter.bin", bytes)
        let outs = try (0..<3).map { try Harness.temporaryDirectory("quit\($0)") }
        defer { ([original] + outs).forEach { try? FileManager.default.removeItem(at: $0) } }
        let net = try await TestNetwork()
        try await net.run {
            try await net.addSeeder(folder: original, extra: ["--max-upload-rate", "1MiB"])
            try await SwarmTests.waitForPeers(net, name: "quitter.bin", count: 1)
            let gets = try outs.map { try Self.downloader("quitter.bin", net: net, directory: $0) }
            let victim = gets[0]
            var upload: Endpoint?
            try await Harness.waitUntil("the first downloader says where it serves") {
                upload = UploadWhileDownloadingTests.servingAddress(in: victim.stderr)
                return upload != nil
            }
            // Halfway: it holds half of the pieces, as its own BITFIELD and HAVEs say.
            let client = try RawClient(try await net.plainDoor(to: try #require(upload)))
            _ = client.send(.hello(Hello(role: .client, features: [.swarm], agent: "swarm-test")))
            guard case .welcome = client.receive() else { Issue.record("no WELCOME"); return }
            var held = 0
            try await Harness.waitUntil("the first downloader offers the download") {
                _ = client.send(.manifestRequest(manifest.contentID))
                guard case .manifest = client.receive(), case .bitfield(_, let holdings) = client.receive() else { return false }
                held = holdings.pieces.count
                return true
            }
            while held < manifest.pieceCount / 2, case .have? = client.receive() { held += 1 }
            #expect(held >= manifest.pieceCount / 2, "the first downloader stopped announcing pieces at \(held)")
            victim.signal(SIGKILL)
            _ = try await victim.waitForExit()
            for (get, out) in zip(gets.dropFirst(), outs.dropFirst()) {
                #expect(try await get.waitForExit(timeout: .seconds(90)) == 0, "stderr: \(get.stderr)")
                #expect(try Harness.sha256(ofFile: out.appendingPathComponent("quitter.bin")) == SHA256Hash.of(bytes).hex)
            }
        }
    }

    /// A client without the swarm feature is never sent to a partial holder: the index leaves
    /// them out of its RESULTS, and it downloads from the complete holders only.
    @Test func aClientWithoutTheSwarmFeatureDownloadsFromTheCompleteHoldersOfAMixedSwarm() async throws {
        let bytes = Harness.randomBytes(count: 4 << 20, seed: 43)
        let original = try Harness.sharedFolder("mixed.bin", bytes)
        let outs = try (0..<3).map { try Harness.temporaryDirectory("mixed\($0)") }
        defer { ([original] + outs).forEach { try? FileManager.default.removeItem(at: $0) } }
        let net = try await TestNetwork()
        try await net.run {
            try await net.addSeeder(folder: original, extra: ["--max-upload-rate", "1MiB"])
            try await SwarmTests.waitForPeers(net, name: "mixed.bin", count: 1)
            let swarm = try outs.prefix(2).map { try Self.downloader("mixed.bin", net: net, directory: $0) }
            // The index lists them as partial holders to swarm sessions, and only to those.
            var partial: [Endpoint] = []
            let indexDoor = try await net.plainDoor(to: net.indexAddress)
            try await Harness.waitUntil("the index lists the two downloaders as partial holders") {
                partial = Self.search("mixed.bin", index: indexDoor, features: [.swarm])?.partialPeers ?? []
                return partial.count == 2
            }
            let plain = try #require(Self.search("mixed.bin", index: indexDoor, features: []))
            #expect(plain.partialPeers.isEmpty)
            #expect(plain.peers == [net.seederAddresses[0]])

            let (status, json, program) = try await net.get("mixed.bin", ["--no-swarm"], directory: outs[2])
            #expect(status == 0, "stderr: \(program.stderr)")
            #expect(try Harness.sha256(ofFile: outs[2].appendingPathComponent("mixed.bin")) == SHA256Hash.of(bytes).hex)
            let used = SwarmTests.peers(json).compactMap { $0["address"] as? String }
            #expect(used == [net.seederAddresses[0].description], "\(used)")
            #expect(json?["upload"] is NSNull)
            for (get, out) in zip(swarm, outs) {
                #expect(try await get.waitForExit(timeout: .seconds(90)) == 0, "stderr: \(get.stderr)")
                #expect(try Harness.sha256(ofFile: out.appendingPathComponent("mixed.bin")) == SHA256Hash.of(bytes).hex)
            }
        }
    }

    /// One exact search of `name` over a raw connection asking for `features`.
    static func search(_ name: String, index: Endpoint, features: Features) -> SearchResult? {
        guard let client = try? RawClient(index) else { return nil }
        _ = client.send(.hello(Hello(role: .client, features: features, agent: "swarm-test")))
        guard case .welcome = client.receive() else { return nil }
        _ = client.send(.search(SearchRequest(mode: .exact, query: name)))
        guard case .searchResults(let results) = client.receive() else { return nil }
        _ = client.send(.exit)
        return results.results.first
    }
}
