import Foundation
import SonicCore
import SonicNet
import SonicTestSupport
import Testing

/// TLS end to end: identities, pinning, trust on first use, transport mismatches, a man in
/// the middle, and what crosses the wire (docs/SECURITY.md).
@Suite struct TLSTests {
    /// A seeder whose advertised address (127.0.0.1:P, the address the index observes) is
    /// really served by a proxy in front of it: the seeder itself listens on 127.0.0.2:P.
    /// A seeder on 127.0.0.2 whose listed address, 127.0.0.1 and the same port, is held by the
    /// proxy `makeProxy` builds from that address and the seeder's. The proxy binds first, on a
    /// port of the OS's choice, and keeps it: a port only looked up as free could be taken
    /// on 127.0.0.1 (by any connection's ephemeral port) before the proxy bound it, which
    /// once failed a run with "Address already in use". Only these tests listen on 127.0.0.2.
    func seederBehind(_ net: TestNetwork, folder: URL, state: URL, environment: [String: String] = [:],
                      proxy makeProxy: (_ listen: Endpoint, _ target: Endpoint) async throws -> ForwardingProxy)
        async throws -> (seeder: Program, proxy: ForwardingProxy, real: Endpoint, advertised: Endpoint) {
        let proxy = try await makeProxy(Endpoint(host: "127.0.0.1", port: 0), Endpoint(host: "127.0.0.2", port: 0))
        let seeder = try await net.addSeeder(folder: folder, extra: ["--host", "127.0.0.2", "--port", "\(proxy.address.port)"],
                                             environment: environment, stateDirectory: state)
        let real = try await seeder.listeningAddress()
        return (seeder, proxy, real, proxy.address)
    }

    @Test func everyProgramHasAnIdentityThatTheIndexListsBesideItsPeers() async throws {
        let net = try await TestNetwork()
        let folder = try Harness.sharedFolder("hello.txt", Array("hello".utf8))
        defer { try? FileManager.default.removeItem(at: folder) }
        try await net.run {
            let indexID = try await net.index.announcedPeerID()
            #expect((try? PeerID(parsing: indexID)) != nil)
            let seeder = try await net.addSeeder(folder: folder)
            let seederID = try await seeder.announcedPeerID()
            #expect(seederID != indexID)
            let mode = try FileManager.default.attributesOfItem(
                atPath: net.stateDirectory.appendingPathComponent(PeerIdentity.fileName).path)[.posixPermissions] as? Int
            #expect(mode == 0o600)
            let results = try await net.waitForSearch { $0.count == 1 }
            #expect(results[0]["peer_ids"] as? [String] == [seederID])
        }
    }

    @Test func aDownloaderRefusesAPeerWhoseCertificateIsNotTheOneTheIndexGaveAndCompletesFromTheOther() async throws {
        let net = try await TestNetwork()
        let bytes = Harness.randomBytes(count: 3 << 20, seed: 15)
        let (folderA, folderB) = (try Harness.sharedFolder("big.bin", bytes), try Harness.sharedFolder("big.bin", bytes))
        let (stateA, stateB) = (try Harness.temporaryDirectory("state-a"), try Harness.temporaryDirectory("state-b"))
        let out = try Harness.temporaryDirectory("out")
        defer { for f in [folderA, folderB, stateA, stateB, out] { try? FileManager.default.removeItem(at: f) } }
        try await net.run {
            let seederA = try await net.addSeeder(folder: folderA, stateDirectory: stateA)
            let idA = try await seederA.announcedPeerID()
            // B's listed address is held by a man in the middle with its own certificate.
            let b = try await seederBehind(net, folder: folderB, state: stateB) {
                try await ForwardingProxy.manInTheMiddle(listen: $0, target: $1)
            }
            let relay = b.proxy
            defer { Task { await relay.stop() } }
            _ = try await net.waitForSearch { ($0.first?["peers"] as? [String])?.count == 2 }

            let (status, json, program) = try await net.get("big.bin", ["-o", out.path], directory: out)
            #expect(status == 0, "\(program.stderr)")
            #expect(try Harness.sha256(ofFile: out.appendingPathComponent("big.bin")) == SHA256Hash.of(bytes).hex)
            #expect(program.stderr.contains("security: \(b.advertised) presented peer id \(try #require(relay.identity).peerID)"))
            let refused = json?["refused_peers"] as? [String] ?? []
            #expect(refused.count == 1 && refused[0].contains(b.advertised.description))
            let used = (json?["peers"] as? [[String: Any]] ?? []).filter { ($0["pieces"] as? Int ?? 0) > 0 }
            #expect(used.map { $0["address"] as? String } == [net.seederAddresses[0].description])
            #expect(idA.isEmpty == false)

            // Alone, the impostor gets nothing through: a security error, exit 9.
            await net.seeders[0].stop()
            _ = try await net.waitForSearch { ($0.first?["peers"] as? [String])?.count == 1 }
            let again = try Harness.temporaryDirectory("out")
            defer { try? FileManager.default.removeItem(at: again) }
            let (alone, aloneJSON, _) = try await net.get("big.bin", ["-o", again.path], directory: again)
            #expect(alone == 9)
            #expect((aloneJSON?["error"] as? [String: Any])?["code"] as? String == "identity_mismatch")
            #expect(!FileManager.default.fileExists(atPath: again.appendingPathComponent("big.bin").path))
        }
    }

    @Test func anIndexMetOnceIsRememberedAndAChangedIdentityIsRefusedNamingTheFile() async throws {
        let (indexState1, indexState2, clientState) = (try Harness.temporaryDirectory("index-1"),
                                                      try Harness.temporaryDirectory("index-2"),
                                                      try Harness.temporaryDirectory("client"))
        defer { for f in [indexState1, indexState2, clientState] { try? FileManager.default.removeItem(at: f) } }
        let first = try Program("sonic-index", ["--port", "0", "--state-dir", indexState1.path])
        let address = try await first.listeningAddress()
        let firstID = try await first.announcedPeerID()
        func search(_ index: String) async throws -> Program {
            let p = try Program("sonic-search", ["--index", index, "--state-dir", clientState.path])
            _ = try await p.waitForExit(timeout: .seconds(20))
            return p
        }
        let met = try await search(address.description)
        #expect(met.process.terminationStatus == 1, "\(met.stderr)") // reached: nothing shared yet
        let known = clientState.appendingPathComponent(IndexTrust.fileName).path
        #expect(try String(contentsOfFile: known, encoding: .utf8).contains("\(address) \(firstID)"))
        await first.stop()

        // Another index (another identity) at the same address.
        let second = try Program("sonic-index", ["--port", "\(address.port)", "--state-dir", indexState2.path])
        defer { second.stopNow() }
        _ = try await second.listeningAddress()
        let secondID = try await second.announcedPeerID()
        let refused = try await search(address.description)
        #expect(refused.process.terminationStatus == 9)
        #expect(refused.stderr.contains("HAS CHANGED") && refused.stderr.contains(known))
        // Pinning the new identity on the command line is the user's way to accept it...
        let pinned = try await search("\(address)#\(secondID)")
        #expect(pinned.process.terminationStatus == 1, "\(pinned.stderr)")
        // ...and a pin the index does not match is refused before anything is sent.
        let wrongPin = try await search("\(address)#\(firstID)")
        #expect(wrongPin.process.terminationStatus == 9)
        #expect(wrongPin.stderr.contains("presented peer id \(secondID)"))
    }

    @Test func tlsAgainstPlainIsAClearErrorOnBothSides() async throws {
        let state = try Harness.temporaryDirectory("client")
        defer { try? FileManager.default.removeItem(at: state) }
        let tlsIndex = try Program("sonic-index", ["--port", "0"])
        defer { tlsIndex.stopNow() }
        let plainIndex = try Program("sonic-index", ["--port", "0", "--tls", "off"])
        defer { plainIndex.stopNow() }
        let (tlsAddress, plainAddress) = (try await tlsIndex.listeningAddress(), try await plainIndex.listeningAddress())

        let plainClient = try Program("sonic-search", ["--index", tlsAddress.description, "--tls", "off"])
        #expect(try await plainClient.waitForExit(timeout: .seconds(20)) != 0)
        #expect(plainClient.stderr.contains("this server runs with --tls on"), "\(plainClient.stderr)")
        #expect(plainClient.stderr.contains("run the client with --tls on"))
        try await Harness.waitUntil("the TLS index logs the plain client") {
            tlsIndex.stderr.contains("the client does not use TLS")
        }

        let tlsClient = try Program("sonic-search", ["--index", plainAddress.description, "--state-dir", state.path])
        #expect(try await tlsClient.waitForExit(timeout: .seconds(20)) != 0)
        #expect(tlsClient.stderr.contains("\(plainAddress) does not use TLS"), "\(tlsClient.stderr)")
        #expect(tlsClient.stderr.contains("--tls off"))
        try await Harness.waitUntil("the plain index logs the TLS client") {
            plainIndex.stderr.contains("the client uses TLS and this server runs with --tls off")
        }
    }

    @Test func aRelayInTheMiddleCannotCompleteAMembersOnlyHandshake() async throws {
        let folder = try Harness.temporaryDirectory("secret")
        defer { try? FileManager.default.removeItem(at: folder) }
        let secretFile = folder.appendingPathComponent("secret")
        try Data("members only\n".utf8).write(to: secretFile)
        let index = try Program("sonic-index", ["--port", "0", "--secret-file", secretFile.path])
        defer { index.stopNow() }
        let address = try await index.listeningAddress()
        let relay = try await ForwardingProxy.manInTheMiddle(target: address)
        defer { Task { await relay.stop() } }

        func search(_ through: Endpoint, secret: String) async throws -> Program {
            let p = try Program("sonic-search", ["--index", through.description, "--secret-file", secret,
                                                 "--state-dir", folder.appendingPathComponent("client").path])
            _ = try await p.waitForExit(timeout: .seconds(20))
            return p
        }
        let direct = try await search(address, secret: secretFile.path)
        #expect(direct.process.terminationStatus == 1, "\(direct.stderr)") // a member: reached, nothing shared
        // Two TLS handshakes in a row can outlast the client's one-second answer deadline on a
        // loaded machine (exit 3, "no data"): ask again, a bounded number of times.
        var relayed = try await search(relay.address, secret: secretFile.path)
        for _ in 0..<5 where relayed.process.terminationStatus == 3 {
            relayed = try await search(relay.address, secret: secretFile.path)
        }
        #expect(relayed.process.terminationStatus == 6, "\(relayed.stderr)")
        #expect(relayed.stderr.contains("does not know our network secret"))

        let wrong = folder.appendingPathComponent("wrong")
        try Data("guess".utf8).write(to: wrong)
        let outsider = try await search(address, secret: wrong.path)
        #expect(outsider.process.terminationStatus == 6)
    }

    @Test func withTLSOnAFilesBytesNeverCrossTheWireInClear() async throws {
        let marker = "SONIC-SHARE-WIRE-MARKER-7f3a9c"
        var text = ""
        while text.utf8.count < 600_000 { text += "line \(text.utf8.count): \(marker) and some log text\n" }
        let bytes = Array(text.utf8)
        for tls in [true, false] {
            let net = try await TestNetwork(tls: tls)
            let folder = try Harness.sharedFolder("log.txt", bytes)
            let state = try Harness.temporaryDirectory("state")
            let out = try Harness.temporaryDirectory("out")
            defer { for f in [folder, state, out] { try? FileManager.default.removeItem(at: f) } }
            try await net.run {
                let b = try await seederBehind(net, folder: folder, state: state, environment: net.environment) {
                    try await ForwardingProxy(listen: $0, target: $1)
                }
                let proxy = b.proxy
                defer { Task { await proxy.stop() } }
                _ = try await net.waitForSearch { ($0.first?["peers"] as? [String])?.count == 1 }
                let (status, _, program) = try await net.get("log.txt", ["-o", out.path, "--compress", "never"], directory: out)
                #expect(status == 0, "\(program.stderr)")
                #expect(try Harness.sha256(ofFile: out.appendingPathComponent("log.txt")) == SHA256Hash.of(bytes).hex)
                let wire = proxy.bytes
                #expect(wire.count > bytes.count)
                let seen = String(decoding: wire, as: UTF8.self).contains(marker)
                // The plain run shows the capture would catch it.
                #expect(seen == !tls, "tls \(tls): marker seen \(seen) in \(wire.count) bytes")
            }
        }
    }
}
