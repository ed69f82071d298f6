import SonicTestSupport
import Foundation
import SonicCore
import Testing

/// No single point of failure: several indexes, restarts, and downloads that outlive the index.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct IndexFailoverTests {
    /// A socket that accepts TCP connections (in the kernel backlog) but never answers: a hung index.
    static func hungListener() throws -> (fd: Int32, port: Int) {
        loopbackSocket(listening: true)
    }

    static func searchCount(_ indexes: String) async throws -> (count: Int, program: Program) {
        let p = try Program("sonic-search", ["--json", "--index", indexes])
        _ = try await p.waitForExit()
        guard let data = p.stdout.data(using: .utf8),
              let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
        else { return (0, p) }
        return ((json["results"] as? [[String: Any]])?.count ?? 0, p)
    }

    /// Peers listed for the first result of a keyword search.
    static func peerCount(_ index: String, _ keyword: String) async throws -> Int {
        let results = try await TestNetwork.searchJSON(index, [keyword])
        return (results.first?["peers"] as? [String])?.count ?? 0
    }

    @Test func seedersRegisterWithEveryIndexAndClientsFallOverPastDeadAndHungOnes() async throws {
        let a = try Program("sonic-index", ["--port", "0"])
        let b = try Program("sonic-index", ["--port", "0"])
        let addressA = try await a.listeningAddress()
        let addressB = try await b.listeningAddress()
        let state = try Harness.temporaryDirectory("state")
        let hung = try Self.hungListener()
        let deadPort = try freeLoopbackPort()
        defer {
            close(hung.fd)
            try? FileManager.default.removeItem(at: state)
        }
        let seeder = try Program("sonic-seed", [Harness.fixtures.path, "--index", "\(addressA),\(addressB)", "--port", "0",
                                                "--state-dir", state.path])
        _ = try await seeder.listeningAddress()
        let all = NetworkTests.fixtureNames.count
        do {
            // Both indexes learn everything.
            for address in [addressA, addressB] {
                let deadline = ContinuousClock.now + .seconds(20)
                while try await Self.searchCount(address.description).count != all && ContinuousClock.now < deadline {
                    try await Task.sleep(for: .milliseconds(100))
                }
                #expect(try await Self.searchCount(address.description).count == all, "\(address)")
            }
            // A dead index (nothing listening) and a hung one (never answers) are skipped.
            let viaDead = try await Self.searchCount("127.0.0.1:\(deadPort),\(addressA)")
            #expect(viaDead.count == all, "\(viaDead.program.stderr)")
            let viaHung = try await Self.searchCount("127.0.0.1:\(hung.port),\(addressB)")
            #expect(viaHung.count == all, "\(viaHung.program.stderr)")
            // The first index dies: the same list still works through the second.
            a.signal(SIGKILL)
            _ = try await a.waitForExit()
            let afterDeath = try await Self.searchCount("\(addressA),\(addressB)")
            #expect(afterDeath.count == all, "\(afterDeath.program.stderr)")
        } catch {
            for p in [seeder, a, b] { await p.stop() }
            throw error
        }
        for p in [seeder, a, b] { await p.stop() }
    }

    @Test func aDownloadOutlivesTheIndexAndARestartedIndexIsRepopulatedWithinAHeartbeat() async throws {
        let bytes = Harness.randomBytes(count: 24 << 20, seed: 31)
        let folders = try SwarmTests.sharedFolders(4, name: "outlive.bin", bytes: bytes)
        let out = try Harness.temporaryDirectory("get")
        let state = try Harness.temporaryDirectory("state")
        defer { (folders + [out, state]).forEach { try? FileManager.default.removeItem(at: $0) } }
        let port = try freeLoopbackPort()
        var index = try Program("sonic-index", ["--port", "\(port)"])
        let address = try await index.listeningAddress()
        var seeders: [Program] = []
        do {
            for folder in folders {
                let s = try Program("sonic-seed", [folder.path, "--index", address.description, "--port", "0",
                                                   "--state-dir", state.path, "--heartbeat", "3s",
                                                   "--max-upload-rate", "5MiB"])
                _ = try await s.listeningAddress()
                seeders.append(s)
            }
            try await Harness.waitUntil("all four seeders registered") {
                try await Self.peerCount(address.description, "outlive") == 4
            }
            let get = try Program("sonic-get", ["outlive.bin", "--json", "--index", address.description], directory: out)
            // The partial file exists once the manifest is in: from then on the index is not needed.
            let partial = out.appendingPathComponent(".outlive.bin.sonic-part").path
            try await Harness.waitUntil("the download started") { FileManager.default.fileExists(atPath: partial) }
            index.signal(SIGKILL)
            _ = try await index.waitForExit()
            #expect(try await get.waitForExit() == 0, "stderr: \(get.stderr)")
            #expect(try Harness.sha256(ofFile: out.appendingPathComponent("outlive.bin")) == SHA256Hash.of(bytes).hex)

            // Restart on the same port: every seeder comes back by itself (they retry every
            // second; how fast is a benchmark's business, not a test's).
            index = try Program("sonic-index", ["--port", "\(port)"])
            _ = try await index.listeningAddress()
            let restarted = index
            try await Harness.waitUntil("all four seeders re-registered") {
                guard restarted.process.isRunning else { throw HarnessError("the restarted index died") }
                return try await Self.peerCount(address.description, "outlive") == 4
            }
        } catch {
            for s in seeders { await s.stop() }
            await index.stop()
            throw error
        }
        for s in seeders { await s.stop() }
        await index.stop()
    }
}

