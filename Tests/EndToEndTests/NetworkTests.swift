import SonicTestSupport
import Foundation
import SonicCore
import SonicWire
import Testing

/// The whole network on loopback: real sonic-index, sonic-seed, sonic-search and sonic-get
/// processes; fetched bytes checked with SHA-256 against the fixtures.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct NetworkTests {
    static let fixtureNames = [
        "empty.txt", "meeting notes: 2026-11-24.txt", "nested/chapter one.txt", "nested/deeper/data.csv",
        "random-1.5MiB.bin", "readme.txt", "server log.txt", "Ünïcødé façade — résumé.txt",
    ]

    @Test func twoSeedersServeAFixtureWhoseNameHasASpaceAndAColon() async throws {
        let net = try await TestNetwork()
        let out = try Harness.temporaryDirectory("get")
        defer { try? FileManager.default.removeItem(at: out) }
        try await net.addSeeder(folder: Harness.fixtures)
        try await net.addSeeder(folder: Harness.fixtures)
        try await net.run {
            let name = "meeting notes: 2026-11-24.txt"
            _ = try await net.waitForSearch([], until: { results in
                results.first { ($0["name"] as? String) == name }.map { ($0["peers"] as? [String])?.count == 2 } ?? false
            })
            let (status, json, program) = try await net.get(name, [], directory: out)
            #expect(status == 0, "stderr: \(program.stderr)")
            let expected = try Harness.sha256(ofFile: Harness.fixtures.appendingPathComponent(name))
            #expect(try Harness.sha256(ofFile: out.appendingPathComponent(name)) == expected)
            #expect(json?["sha256"] as? String == expected)

            // A binary fixture larger than one piece, fetched from both seeders.
            let (status2, json2, program2) = try await net.get("random-1.5MiB.bin", ["-o", "copy.bin"], directory: out)
            #expect(status2 == 0, "stderr: \(program2.stderr)")
            #expect(try Harness.sha256(ofFile: out.appendingPathComponent("copy.bin"))
                == Harness.sha256(ofFile: Harness.fixtures.appendingPathComponent("random-1.5MiB.bin")))
            #expect((json2?["peers"] as? [[String: Any]])?.count == 2)
            // Nothing is left behind but the finished files.
            let left = try FileManager.default.contentsOfDirectory(atPath: out.path).sorted()
            #expect(left == ["copy.bin", name])
        }
    }

    @Test func everyFixtureRoundTripsIncludingUnicodeNestedAndEmpty() async throws {
        let net = try await TestNetwork()
        let out = try Harness.temporaryDirectory("get")
        defer { try? FileManager.default.removeItem(at: out) }
        try await net.addSeeder(folder: Harness.fixtures)
        try await net.run {
            let results = try await net.waitForSearch([], until: { $0.count == Self.fixtureNames.count })
            #expect(Set(results.compactMap { $0["name"] as? String }) == Set(Self.fixtureNames))
            for name in Self.fixtureNames {
                let (status, _, program) = try await net.get(name, [], directory: out)
                #expect(status == 0, "\(name): \(program.stderr)")
                let saved = out.appendingPathComponent(SharedName.baseName(name))
                #expect(try Harness.sha256(ofFile: saved) == Harness.sha256(ofFile: Harness.fixtures.appendingPathComponent(name)),
                        "\(name)")
            }
        }
    }

    @Test func unknownNameAndIndexOutageGiveOneLineErrorsAndExitCodes() async throws {
        let net = try await TestNetwork()
        let out = try Harness.temporaryDirectory("get")
        defer { try? FileManager.default.removeItem(at: out) }
        let (status, _, program) = try await net.get("no-such-file.txt", [], directory: out)
        #expect(status == 1)
        #expect(program.stderr.contains("no peer shares"))
        await net.stopAll()
        // The index is gone now: exit 3, said in one line.
        let p = try Program("sonic-get", ["x", "--index", net.indexAddress.description], directory: out)
        #expect(try await p.waitForExit() == 3)
        #expect(p.stderr == "sonic-get: cannot reach the index at \(net.indexAddress) (connection refused); "
                + "is sonic-index running there? (--index or SONIC_INDEX)\n")
        #expect(try FileManager.default.contentsOfDirectory(atPath: out.path).isEmpty)
    }

    @Test func existingDifferentOutputIsNotOverwrittenWithoutForce() async throws {
        let net = try await TestNetwork()
        let out = try Harness.temporaryDirectory("get")
        defer { try? FileManager.default.removeItem(at: out) }
        try await net.addSeeder(folder: Harness.fixtures)
        try await net.run {
            _ = try await net.waitForSearch(["readme"], until: { !$0.isEmpty })
            let target = out.appendingPathComponent("readme.txt")
            try Data("mine".utf8).write(to: target)
            let (status, _, program) = try await net.get("readme.txt", [], directory: out)
            #expect(status == 5, "stderr: \(program.stderr)")
            #expect(try String(contentsOf: target, encoding: .utf8) == "mine")
            let (forced, _, program2) = try await net.get("readme.txt", ["--force"], directory: out)
            #expect(forced == 0, "stderr: \(program2.stderr)")
            #expect(try Harness.sha256(ofFile: target) == Harness.sha256(ofFile: Harness.fixtures.appendingPathComponent("readme.txt")))
        }
    }

    /// The one liveness mechanism: a session silent for --heartbeat-timeout is closed with a
    /// timeout ERROR and its files are forgotten; a heartbeating seeder stays.
    @Test func aSilentSessionIsForgottenAndAHeartbeatingOneStays() async throws {
        let net = try await TestNetwork(heartbeatTimeout: "2s")
        try await net.addSeeder(folder: Harness.fixtures)  // heartbeats every second
        try await net.run {
            let silent = try RawClient(try await net.plainDoor(to: net.indexAddress), timeoutSeconds: 20)
            silent.send(.hello(Hello(role: .seeder, listenPort: 9, agent: "silent")))
            guard case .welcome = silent.receive() else { Issue.record("no WELCOME"); return }
            let id = ContentID(SHA256Hash.of([7]))
            silent.send(.register([SharedFile(name: "ghost.txt", size: 1, contentID: id, fileHash: SHA256Hash.of([7]))]))
            guard case .ok = silent.receive() else { Issue.record("registration refused"); return }
            _ = try await net.waitForSearch(["ghost"], until: { !$0.isEmpty })
            guard case .error(let e) = silent.receive() else { Issue.record("no timeout ERROR"); return }
            #expect(e.code == .timeout)
            _ = try await net.waitForSearch(["ghost"], until: { $0.isEmpty })
            let all = try await net.search([])
            #expect(all.count == Self.fixtureNames.count, "the heartbeating seeder was forgotten too")
        }
    }
}
