import SonicTestSupport
import Foundation
import SonicCore
import Testing

/// A downloader becomes a source: with `--seed`, or by downloading into a shared folder.
@Suite(.serialized, .timeLimit(.minutes(2)))
struct BecomingASourceTests {
    @Test func getWithSeedServesTheFileAfterTheOriginalSeederLeaves() async throws {
        let bytes = Harness.randomBytes(count: 3 << 20, seed: 11)
        let original = try SwarmTests.sharedFolders(1, name: "pass-it-on.bin", bytes: bytes)[0]
        let first = try Harness.temporaryDirectory("first")
        let second = try Harness.temporaryDirectory("second")
        let net = try await TestNetwork()
        defer { [original, first, second].forEach { try? FileManager.default.removeItem(at: $0) } }
        var relay: Program?
        defer { relay?.signal(SIGKILL) }
        try await net.run {
            try await net.addSeeder(folder: original)
            try await SwarmTests.waitForPeers(net, name: "pass-it-on.bin", count: 1)
            let seeding = try Program("sonic-get", ["pass-it-on.bin", "--seed", "--quiet", "--index", net.indexAddress.description],
                                      directory: first)
            relay = seeding
            let relayAddress = try await seeding.listeningAddress()
            try await SwarmTests.waitForPeers(net, name: "pass-it-on.bin", count: 2)
            // The original leaves; the relay alone serves the next downloader.
            await net.seeders[0].stop()
            _ = try await net.waitForSearch([], until: { results in
                results.first { ($0["name"] as? String) == "pass-it-on.bin" }.map {
                    ($0["peers"] as? [String]) == [relayAddress.description]
                } ?? false
            })
            let (status, json, program) = try await net.get("pass-it-on.bin", [], directory: second)
            #expect(status == 0, "stderr: \(program.stderr)")
            #expect(try Harness.sha256(ofFile: second.appendingPathComponent("pass-it-on.bin")) == SHA256Hash.of(bytes).hex)
            #expect((json?["peers"] as? [[String: Any]])?.map { $0["address"] as? String } == [relayAddress.description])
            await seeding.stop()
        }
    }

    @Test func aFileDownloadedIntoASharedFolderIsRegisteredOnTheNextRescan() async throws {
        let bytes = Harness.randomBytes(count: 2 << 20, seed: 12)
        let original = try SwarmTests.sharedFolders(1, name: "grow.bin", bytes: bytes)[0]
        let shared = try Harness.temporaryDirectory("shared")
        let net = try await TestNetwork()
        defer { [original, shared].forEach { try? FileManager.default.removeItem(at: $0) } }
        try await net.run {
            try await net.addSeeder(folder: original)
            try await net.addSeeder(folder: shared)  // shares nothing yet
            try await SwarmTests.waitForPeers(net, name: "grow.bin", count: 1)
            let (status, _, program) = try await net.get("grow.bin", ["-o", shared.path], directory: shared)
            #expect(status == 0, "stderr: \(program.stderr)")
            // The second seeder rescans (every second in tests) and registers the new file.
            try await SwarmTests.waitForPeers(net, name: "grow.bin", count: 2)
        }
    }

    @Test func filesThatChangeOrVanishAreUpdatedAtTheIndex() async throws {
        let folder = try Harness.temporaryDirectory("live")
        defer { try? FileManager.default.removeItem(at: folder) }
        try Data("first version".utf8).write(to: folder.appendingPathComponent("notes.txt"))
        try Data("short-lived".utf8).write(to: folder.appendingPathComponent("gone.txt"))
        let net = try await TestNetwork()
        try await net.run {
            try await net.addSeeder(folder: folder)  // rescans every second in tests
            let before = try await net.waitForSearch([], until: { $0.count == 2 })
            let oldID = before.first { ($0["name"] as? String) == "notes.txt" }?["content_id"] as? String
            try Data("second, longer version".utf8).write(to: folder.appendingPathComponent("notes.txt"))
            try FileManager.default.removeItem(at: folder.appendingPathComponent("gone.txt"))
            let after = try await net.waitForSearch([], until: { results in
                results.count == 1 && (results[0]["content_id"] as? String) != oldID
            })
            #expect(after.first?["name"] as? String == "notes.txt")
            #expect(after.first?["size"] as? Int == "second, longer version".utf8.count)
        }
    }
}
