import Foundation
import SonicCore
import Testing

/// No single point of failure: several indexes, restarts, and downloads that outlive the index.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct IndexFailoverTests {
    /// A loopback port that was free a moment ago.
    static func freePort() throws -> Int {
        let socket = loopbackSocket(listening: false)
        close(socket.fd)
        return socket.port
    }

    /// A socket that accepts TCP connections (in the kernel backlog) but never answers: a hung index.
    static func hungListener() throws -> (fd: Int32, port: Int) {
        loopbackSocket(listening: true)
    }

    static func searchCount(_ indexes: String) async throws -> (count: Int, seconds: Double, program: Program) {
        let start = ContinuousClock.now
        let p = try Program("sonic-search", ["--json", "--index", indexes])
        _ = try await p.waitForExit()
        let seconds = (ContinuousClock.now - start).seconds
        guard let data = p.stdout.data(using: .utf8),
              let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
        else { return (0, seconds, p) }
        return ((json["results"] as? [[String: Any]])?.count ?? 0, seconds, p)
    }

    @Test func seedersRegisterWithEveryIndexAndClientsFallOverPastDeadAndHungOnes() async throws {
        let a = try Program("sonic-index", ["--port", "0"])
        let b = try Program("sonic-index", ["--port", "0"])
        let addressA = try await a.listeningAddress()
        let addressB = try await b.listeningAddress()
        let state = try Harness.temporaryDirectory("state")
        let hung = try Self.hungListener()
        let deadPort = try Self.freePort()
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
            #expect(viaHung.seconds < 5, "falling over past a hung index took \(viaHung.seconds)s")
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
        let port = try Self.freePort()
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
            let deadline = ContinuousClock.now + .seconds(20)
            while ContinuousClock.now < deadline {
                let results = try await TestNetwork.searchJSON(address.description, ["outlive"])
                if (results.first?["peers"] as? [String])?.count == 4 { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            let get = try Program("sonic-get", ["outlive.bin", "--json", "--index", address.description], directory: out)
            try await Task.sleep(for: .milliseconds(500))
            index.signal(SIGKILL)
            _ = try await index.waitForExit()
            #expect(try await get.waitForExit() == 0, "stderr: \(get.stderr)")
            #expect(try Harness.sha256(ofFile: out.appendingPathComponent("outlive.bin")) == SHA256Hash.of(bytes).hex)

            // Restart on the same port: every seeder is back within one heartbeat interval (3 s);
            // they retry every second, so allow one interval plus a retry.
            index = try Program("sonic-index", ["--port", "\(port)"])
            _ = try await index.listeningAddress()
            let restarted = ContinuousClock.now
            var peers = 0
            while ContinuousClock.now - restarted < .seconds(10) {
                let results = try await TestNetwork.searchJSON(address.description, ["outlive"])
                peers = (results.first?["peers"] as? [String])?.count ?? 0
                if peers == 4 { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(peers == 4)
            #expect(ContinuousClock.now - restarted < .seconds(4), "repopulation took \(ContinuousClock.now - restarted)")
        } catch {
            for s in seeders { await s.stop() }
            await index.stop()
            throw error
        }
        for s in seeders { await s.stop() }
        await index.stop()
    }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
