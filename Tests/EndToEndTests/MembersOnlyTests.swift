import SonicTestSupport
import Foundation
import SonicCore
import SonicWire
import Testing

/// `--secret-file` / `SONIC_SECRET`: only members register, search and obtain.
@Suite(.serialized, .timeLimit(.minutes(2)))
struct MembersOnlyTests {
    /// Over TLS (the default) and over plain TCP; the hand-made clients (``RawClient``) that
    /// check what a non-member gets from a seeder speak plain frames, through a plain door
    /// over TLS.
    @Test(arguments: [true, false])
    func membersGetInAndEveryoneElseIsRefusedClearly(tls: Bool) async throws {
        let transport = tls ? [:] : Harness.plain
        let dir = try Harness.temporaryDirectory("secret")
        let out = try Harness.temporaryDirectory("get")
        defer { [dir, out].forEach { try? FileManager.default.removeItem(at: $0) } }
        let secretFile = dir.appendingPathComponent("network.secret")
        try Data("correct horse battery staple\n".utf8).write(to: secretFile)
        let member = ["--secret-file", secretFile.path]

        let index = try Program("sonic-index", ["--port", "0"] + member, environment: transport)
        let indexAddress = try await index.listeningAddress()
        let state = try Harness.temporaryDirectory("state")
        let seeder = try Program("sonic-seed", [Harness.fixtures.path, "--index", indexAddress.description, "--port", "0",
                                                "--state-dir", state.path] + member, environment: transport)
        let seederAddress = try await seeder.listeningAddress()
        // A seeder without the secret cannot register anything.
        let outsider = try Program("sonic-seed", [Harness.fixtures.path, "--index", indexAddress.description, "--port", "0",
                                                  "--state-dir", state.path], environment: transport)
        let outsiderAddress = try await outsider.listeningAddress()
        defer { try? FileManager.default.removeItem(at: state) }
        func search(_ extra: [String], env: [String: String] = [:]) async throws -> Program {
            let p = try Program("sonic-search", ["--json", "--index", indexAddress.description] + extra, environment: env.merging(transport) { mine, _ in mine })
            _ = try await p.waitForExit()
            return p
        }
        // Over TLS, a plain door for the hand-made clients; stopped with the programs.
        let door = tls ? try await ForwardingProxy.plainDoor(to: seederAddress) : nil
        do {
            // The member's files appear (the secret also works through the environment).
            let deadline = ContinuousClock.now + .seconds(20)
            var listed = 0
            while ContinuousClock.now < deadline {
                let p = try await search([], env: ["SONIC_SECRET": "correct horse battery staple"])
                if let data = p.stdout.data(using: .utf8),
                   let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any] {
                    listed = (json["results"] as? [[String: Any]])?.count ?? 0
                    let peers = Set(((json["results"] as? [[String: Any]]) ?? []).flatMap { $0["peers"] as? [String] ?? [] })
                    #expect(!peers.contains(outsiderAddress.description), "the outsider registered files")
                    #expect(peers.isSubset(of: [seederAddress.description]))
                }
                if listed == NetworkTests.fixtureNames.count { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(listed == NetworkTests.fixtureNames.count)

            // No secret, or a wrong one: refused with a clear one-line message and exit 6.
            let none = try await search([])
            #expect(none.process.terminationStatus == 6)
            #expect(none.stderr.contains("members-only"), "\(none.stderr)")
            let wrong = try await search([], env: ["SONIC_SECRET": "not the secret"])
            #expect(wrong.process.terminationStatus == 6)
            #expect(wrong.stderr.contains("secret"), "\(wrong.stderr)")

            // A member downloads; a non-member cannot even ask the seeder.
            let get = try Program("sonic-get", ["readme.txt", "--json", "--index", indexAddress.description] + member, environment: transport, directory: out)
            #expect(try await get.waitForExit() == 0, "\(get.stderr)")
            #expect(try Harness.sha256(ofFile: out.appendingPathComponent("readme.txt"))
                == Harness.sha256(ofFile: Harness.fixtures.appendingPathComponent("readme.txt")))
            let raw = try RawClient(door?.address ?? seederAddress)
            raw.send(.hello(Hello(role: .client, agent: "outsider")))
            guard case .challenge = raw.receive() else { Issue.record("no challenge from a members-only seeder"); return }
            raw.send(.obtain(requestID: 1, name: "readme.txt"))
            guard case .error(let e) = raw.receive() else { Issue.record("OBTAIN without AUTH was not refused"); return }
            #expect(e.code == .notAuthorized)
            #expect(raw.isClosedByServer())
            let forged = try RawClient(door?.address ?? seederAddress)
            forged.send(.hello(Hello(role: .client, agent: "forger")))
            guard case .challenge = forged.receive() else { Issue.record("no challenge"); return }
            forged.send(.auth(proof: [UInt8](repeating: 0, count: 32)))
            guard case .error(let e2) = forged.receive() else { Issue.record("a forged proof was not refused"); return }
            #expect(e2.code == .notAuthorized)
            // The refused seeder does not retry forever: it exits 6 with the reason.
            #expect(try await outsider.waitForExit(timeout: .seconds(20)) == 6)
            #expect(outsider.stderr.contains("sonic-seed: the index at \(indexAddress) refused this peer"), "\(outsider.stderr)")
        } catch {
            await door?.stop()
            for p in [outsider, seeder, index] { await p.stop() }
            throw error
        }
        await door?.stop()
        for p in [outsider, seeder, index] { await p.stop() }
    }

    @Test func aMemberRefusesAnOpenIndex() async throws {
        let net = try await TestNetwork()
        let p = try Program("sonic-search", ["--index", net.indexAddress.description], environment: ["SONIC_SECRET": "s3cret"])
        #expect(try await p.waitForExit() == 6)
        #expect(p.stderr.contains("does not know our network secret"), "\(p.stderr)")
        await net.stopAll()
    }
}
