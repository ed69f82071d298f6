import SonicTestSupport
import Foundation
import SonicCore
import SonicWire
import Testing

/// What a real network does to servers: garbage, slow-loris, silent connections, floods.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct HostileClientTests {
    static let strict = ["--frame-timeout", "1s", "--max-connections-per-ip", "40"]

    @Test func slowLorisAndSilentConnectionsAreTimedOutWithAnError() async throws {
        let index = try Program("sonic-index", ["--port", "0"] + Self.strict)
        let door = try await ForwardingProxy.plainDoor(to: try await index.listeningAddress())
        let address = door.address
        do {
            // Connects and never speaks.
            let silent = try RawClient(address)
            // Starts a HELLO and then sends one byte every 300 ms: each byte keeps a plain
            // idle timer happy, but the frame never completes in time.
            let loris = try RawClient(address)
            let hello = BadInputTests.frame(.hello(Hello(role: .client, agent: "slow")))
            let start = ContinuousClock.now
            var sent = 0
            while sent < 12 && ContinuousClock.now - start < .seconds(4) {
                loris.send([hello[sent]])
                sent += 1
                try await Task.sleep(for: .milliseconds(300))
            }
            for (what, client) in [("silent", silent), ("slow-loris", loris)] {
                guard case .error(let e) = client.receive() else {
                    Issue.record("\(what): no ERROR")
                    continue
                }
                #expect(e.code == .timeout, "\(what): \(e)")
                #expect(client.isClosedByServer(), "\(what) left open")
            }
            // A well-behaved client is still served.
            let ok = try RawClient(address)
            try ok.handshake()
            ok.send(.search(SearchRequest(mode: .keyword, query: "")))
            guard case .searchResults = ok.receive() else { Issue.record("index stopped serving"); return }
        } catch {
            await door.stop()
            await index.stop()
            throw error
        }
        await door.stop()
        await index.stop()
    }

    @Test func connectionsBeyondThePerIPLimitAreRefusedAsBusy() async throws {
        let state = try Harness.temporaryDirectory("state")
        defer { try? FileManager.default.removeItem(at: state) }
        let index = try Program("sonic-index", ["--port", "0"])
        let indexAddress = try await index.listeningAddress()
        let seeder = try Program("sonic-seed", [Harness.fixtures.path, "--index", indexAddress.description, "--port", "0",
                                                "--state-dir", state.path, "--max-connections-per-ip", "3"])
        let door = try await ForwardingProxy.plainDoor(to: try await seeder.listeningAddress())
        let address = door.address
        do {
            let held = try (0..<3).map { _ in try RawClient(address) }
            for c in held { try c.handshake() }
            let extra = try RawClient(address)
            let refusal = extra.receive()
            guard case .error(let e) = refusal else { Issue.record("4th connection not refused: \(String(describing: refusal))"); return }
            #expect(e.code == .busy)
            #expect(e.message.contains("too many connections"))
            // Closing one frees a slot.
            held[0].send(.exit)
            #expect(held[0].isClosedByServer())
            // The server frees the slot when it has closed its side: retry until it has.
            try await Harness.waitUntil("a closed connection frees its slot") {
                let again = try RawClient(address)
                again.send(.hello(Hello(role: .client, agent: "raw-test")))
                return { if case .welcome = again.receive() { true } else { false } }()
            }
        } catch {
            await door.stop()
            await seeder.stop()
            await index.stop()
            throw error
        }
        await door.stop()
        await seeder.stop()
        await index.stop()
    }

    @Test func randomGarbageOnEveryPortThenEverythingStillWorks() async throws {
        let net = try await TestNetwork()
        let out = try Harness.temporaryDirectory("get")
        defer { try? FileManager.default.removeItem(at: out) }
        try await net.addSeeder(folder: Harness.fixtures)
        try await net.run {
            _ = try await net.waitForSearch([], until: { $0.count == NetworkTests.fixtureNames.count })
            var generator = SeededBytes(seed: 20261124)
            // The TLS ports themselves, and the plain frames behind TLS through doors.
            let doors = [try await net.plainDoor(to: net.indexAddress), try await net.plainDoor(to: net.seederAddresses[0])]
            for endpoint in [net.indexAddress, net.seederAddresses[0]] + doors {
                for round in 0..<60 {
                    let client = try RawClient(endpoint, timeoutSeconds: 3)
                    // Behind TLS, half the rounds start with a valid HELLO so garbage reaches the
                    // later states; the TLS ports themselves get only garbage.
                    if round % 2 == 0 && doors.contains(endpoint) { try client.handshake() }
                    let count = Int(generator.next() % 2048) + 1
                    client.send((0..<count).map { _ in UInt8(truncatingIfNeeded: generator.next()) })
                    // Whatever it answers, it must end with an ERROR or a close, never hang.
                    var frames = 0
                    while let message = client.receive() {
                        frames += 1
                        if case .error = message { break }
                        if frames > 64 { Issue.record("\(endpoint) kept talking to garbage"); break }
                    }
                }
            }
            #expect(net.index.process.isRunning && net.seeders[0].process.isRunning)
            #expect(try await net.search([]).count == NetworkTests.fixtureNames.count)
            let (status, _, program) = try await net.get("random-1.5MiB.bin", [], directory: out)
            #expect(status == 0, "stderr: \(program.stderr)")
            #expect(try Harness.sha256(ofFile: out.appendingPathComponent("random-1.5MiB.bin"))
                == Harness.sha256(ofFile: Harness.fixtures.appendingPathComponent("random-1.5MiB.bin")))
        }
    }
}
