import SonicTestSupport
import Foundation
import NIOCore
import SonicCore
import SonicWire
import Testing

/// The defects a hostile black-box test found, each reproduced as it was reported: a wrong
/// file under the final name, a byte from outside the shared folder, a hang, a crash.
@Suite(.serialized, .timeLimit(.minutes(4)))
struct HostileRegressionTests {
    /// Defect 1: a partial file of random bytes with a resume record claiming every piece.
    @Test func aTamperedResumeRecordIsRehashedAndNeverCommitsGarbage() async throws {
        let bytes = Harness.randomBytes(count: 3 << 20, seed: 91)
        let folder = try Harness.sharedFolder("resume.bin", bytes)
        let out = try Harness.temporaryDirectory("get")
        defer { [folder, out].forEach { try? FileManager.default.removeItem(at: $0) } }
        let net = try await TestNetwork()
        try await net.run {
            try await net.addSeeder(folder: folder)
            let results = try await net.waitForSearch(["resume.bin"], until: { !$0.isEmpty })
            let contentID = try #require(results.first?["content_id"] as? String)
            try Data(Harness.randomBytes(count: bytes.count, seed: 92)).write(to: out.appendingPathComponent(".resume.bin.sonic-part"))
            let record = #"{"version":1,"contentID":"\#(contentID)","pieceCount":3,"verified":"e0"}"#
            try Data(record.utf8).write(to: out.appendingPathComponent(".resume.bin.sonic-resume"))
            let (status, json, program) = try await net.get("resume.bin", [], directory: out)
            #expect(status == 0, "stderr: \(program.stderr)")
            #expect(json?["reused_pieces"] as? Int == 0, "garbage pieces were reused: \(String(describing: json))")
            #expect(try Harness.sha256(ofFile: out.appendingPathComponent("resume.bin")) == SHA256Hash.of(bytes).hex)
        }
    }

    /// A peer that registers one content id and serves another content's manifest is never
    /// believed: alone, it leaves the download without a manifest (exit 4, the peer named),
    /// and the partial file made while it was asked is gone.
    @Test func aManifestThatIsNotTheContentIDsFailsTheDownloadAndLeavesNothing() async throws {
        let bytes = Harness.randomBytes(count: (1 << 20) + 77, seed: 95)
        let listed = ManifestBuilder.manifest(of: bytes)
        let other = ManifestBuilder.manifest(of: Harness.randomBytes(count: bytes.count, seed: 96))
        let out = try Harness.temporaryDirectory("get")
        defer { try? FileManager.default.removeItem(at: out) }
        let net = try await TestNetwork()
        try await net.run {
            let liar = try await FakePeer(network: net, file: SharedFile(name: "swapped.bin", manifest: listed),
                conversation: FakePeer.serving(other, bytes))
            defer { liar.stop() }
            _ = try await net.waitForSearch(["swapped.bin"], until: { !$0.isEmpty })
            let (status, json, program) = try await net.get("swapped.bin", [], directory: out)
            #expect(status == 4, "stderr: \(program.stderr)")
            #expect((json?["error"] as? [String: Any])?["code"] as? String == "no_manifest")
            #expect(program.stderr.contains("127.0.0.1:\(liar.port): served a manifest that does not match the content id"),
                    "stderr: \(program.stderr)")
            let left = try FileManager.default.contentsOfDirectory(atPath: out.path)
            #expect(left.isEmpty, "something was left: \(left)")
        }
    }

    /// Defect 2: a manifest that pairs a genuine file's SHA-256 with piece hashes of other bytes.
    @Test func aForgedManifestIsDetectedAndNothingIsSaved() async throws {
        let genuine = Harness.randomBytes(count: (2 << 20) + 1000, seed: 93)
        let trojan = Harness.randomBytes(count: genuine.count, seed: 94)
        let honest = ManifestBuilder.manifest(of: trojan)
        let forged = Manifest(fileSize: honest.fileSize, pieceSize: honest.pieceSize,
                              fileHash: SHA256Hash.of(genuine), pieceHashes: honest.pieceHashes)
        let out = try Harness.temporaryDirectory("get")
        defer { try? FileManager.default.removeItem(at: out) }
        let net = try await TestNetwork()
        try await net.run {
            let liar = try await FakePeer(network: net, file: SharedFile(name: "report.pdf", manifest: forged),
                conversation: FakePeer.serving(forged, trojan))
            defer { liar.stop() }
            _ = try await net.waitForSearch(["report.pdf"], until: { !$0.isEmpty })
            let (status, json, program) = try await net.get("report.pdf", [], directory: out)
            #expect(status == 8, "stderr: \(program.stderr)")
            #expect(program.stderr.contains("forged"))
            #expect(json?["complete"] as? Bool == false)
            #expect(json?["sha256"] is NSNull, "the claimed hash was reported as the file's: \(String(describing: json))")
            let peers = json?["peers"] as? [[String: Any]] ?? []
            #expect(!peers.isEmpty && peers.allSatisfy { $0["banned"] as? Bool == true })
            let left = try FileManager.default.contentsOfDirectory(atPath: out.path)
            #expect(left.isEmpty, "something was saved: \(left)")
        }
    }

    /// Defect 3: a shared file renamed over by a symlink to an outside file of the same size
    /// and modification time.
    @Test func theSeederNeverServesAFileSwappedForASymlink() async throws {
        let shared = Harness.randomBytes(count: 64 << 10, seed: 95)
        let secret = Array(repeating: UInt8(ascii: "S"), count: shared.count)
        let folder = try Harness.temporaryDirectory("seed")
        let outside = try Harness.temporaryDirectory("outside")
        defer { [folder, outside].forEach { try? FileManager.default.removeItem(at: $0) } }
        let target = folder.appendingPathComponent("a.bin")
        let secretFile = outside.appendingPathComponent("secret.bin")
        try Data(shared).write(to: target)
        try Data(secret).write(to: secretFile)
        // Same modification time to the nanosecond.
        #expect(copyModificationTime(from: target.path, to: secretFile.path))
        let net = try await TestNetwork()
        try await net.run {
            let seeder = try await net.addSeeder(folder: folder, extra: ["--rescan", "1h"])
            let results = try await net.waitForSearch(["a.bin"], until: { !$0.isEmpty })
            let contentID = try #require((results.first?["content_id"] as? String).flatMap { SHA256Hash(hex: $0) })
            let link = folder.appendingPathComponent("link.tmp")
            try FileManager.default.createSymbolicLink(at: link, withDestinationURL: secretFile)
            #expect(rename(link.path, target.path) == 0)

            let client = try RawClient(try await net.plainDoor(to: net.seederAddresses[0]))
            try client.handshake()
            client.send(.obtain(requestID: 1, name: "a.bin"))
            client.send(.obtainRange(RangeRequest(requestID: 2, contentID: ContentID(contentID), offset: 0,
                                                  length: UInt64(shared.count))))
            var answers: [UInt32: ErrorMessage] = [:]
            while answers.count < 2, let message = client.receive() {
                switch message {
                case .error(let e): answers[e.requestID] = e
                case .data(let block):
                    Issue.record("served \(block.payload.readableBytes) bytes of a swapped file")
                    #expect(!block.payload.readableBytesView.contains(UInt8(ascii: "S")))
                default: Issue.record("unexpected \(message.kind)")
                }
            }
            #expect(answers[1] != nil && answers[2] != nil, "answers: \(answers)")
            try await Harness.waitUntil("the seeder logged the refusal") { seeder.stderr.contains("cannot serve file") }
        }
    }

    /// Defect 4: `ln -s VICTIM .NAME.sonic-part`.
    @Test func aPlantedSymlinkAtThePartialFileIsRefused() async throws {
        let bytes = Harness.randomBytes(count: 1 << 20, seed: 96)
        let folder = try Harness.sharedFolder("v.bin", bytes)
        let out = try Harness.temporaryDirectory("get")
        defer { [folder, out].forEach { try? FileManager.default.removeItem(at: $0) } }
        let victim = out.appendingPathComponent("victim.txt")
        try Data("precious".utf8).write(to: victim)
        try FileManager.default.createSymbolicLink(atPath: out.appendingPathComponent(".v.bin.sonic-part").path,
                                                   withDestinationPath: victim.path)
        let net = try await TestNetwork()
        try await net.run {
            try await net.addSeeder(folder: folder)
            _ = try await net.waitForSearch(["v.bin"], until: { !$0.isEmpty })
            let (status, _, program) = try await net.get("v.bin", [], directory: out)
            #expect(status == 7, "stderr: \(program.stderr)")
            #expect(program.stderr.contains("symbolic link"))
            #expect(try String(contentsOf: victim, encoding: .utf8) == "precious")
            #expect(!FileManager.default.fileExists(atPath: out.appendingPathComponent("v.bin").path))
        }
    }

    /// Defect 5: a peer that drips one byte at a time and ignores CANCEL must not keep a
    /// finished download waiting. (Without the fix the drip lasts a minute; the wait is 30 s.)
    @Test func aDownloadEndsWhenCompleteWhateverAPeerStillDrips() async throws {
        let bytes = Harness.randomBytes(count: 6 << 20, seed: 97)
        let folder = try Harness.sharedFolder("drip.bin", bytes)
        let out = try Harness.temporaryDirectory("get")
        defer { [folder, out].forEach { try? FileManager.default.removeItem(at: $0) } }
        let manifest = ManifestBuilder.manifest(of: bytes)
        let net = try await TestNetwork()
        try await net.run {
            try await net.addSeeder(folder: folder)
            let dripper = try await FakePeer(network: net, file: SharedFile(name: "drip.bin", manifest: manifest),
                conversation: FakePeer.dripping(manifest, bytes))
            defer { dripper.stop() }
            try await SwarmTests.waitForPeers(net, name: "drip.bin", count: 2)
            let (status, json, program) = try await net.get("drip.bin", [], directory: out, timeout: .seconds(30))
            #expect(status == 0, "stderr: \(program.stderr)")
            #expect((json?["peers"] as? [[String: Any]])?.count == 2)
            #expect(try Harness.sha256(ofFile: out.appendingPathComponent("drip.bin")) == SHA256Hash.of(bytes).hex)
        }
    }

    /// Defect 6: a query or name longer than a wire string crashed the client (with a live
    /// index to reach, so the request would really be encoded).
    @Test func aLongQueryOrNameGetsOneClearLineNotACrash() async throws {
        let long = String(repeating: "x", count: WireLimits.maximumStringLength + 1)
        let net = try await TestNetwork()
        try await net.run {
            for (program, args) in [("sonic-search", [long]), ("sonic-get", [long]),
                                    ("sonic-search", [String(repeating: "é", count: 2049)])] {
                let p = try Program(program, args + ["--index", net.indexAddress.description])
                let status = try await p.waitForExit(timeout: .seconds(20))
                #expect(status == 64, "\(program): exit \(status), stderr: \(p.stderr)")
                #expect(p.stderr.contains("at most 4096"), "\(program): \(p.stderr)")
                #expect(!p.stderr.contains("Fatal error"))
            }
        }
    }

    /// Defect 7: names with terminal escapes or newlines are refused by the index and skipped
    /// (with an escaped log line) by the seeder.
    @Test func namesWithControlCharactersAreRefusedAndNeverPrintedRaw() async throws {
        let folder = try Harness.temporaryDirectory("seed")
        defer { try? FileManager.default.removeItem(at: folder) }
        let evil = "evil\u{1B}]0;pwned\u{07}.txt"
        try Data("x".utf8).write(to: folder.appendingPathComponent(evil))
        try Data("y".utf8).write(to: folder.appendingPathComponent("good.txt"))
        let net = try await TestNetwork()
        try await net.run {
            let raw = try RawClient(try await net.plainDoor(to: net.indexAddress))
            raw.send(.hello(Hello(role: .seeder, listenPort: 9, agent: "raw-test")))
            guard case .welcome = raw.receive() else { Issue.record("no WELCOME"); return }
            let id = ContentID(SHA256Hash.of([1]))
            for name in ["a\u{1B}[2J", "row\nforged  1 B  abcd  9", "c1\u{9B}31m", "del\u{7F}"] {
                raw.send(.register([SharedFile(name: name, size: 1, contentID: id, fileHash: SHA256Hash.of([1]))]))
                guard case .error(let e) = raw.receive() else { Issue.record("\(name.debugDescription) accepted"); continue }
                #expect(e.code == .limitExceeded)
                #expect(!e.message.unicodeScalars.contains(where: TerminalText.isControl))
            }
            let seeder = try await net.addSeeder(folder: folder)
            let results = try await net.waitForSearch([], until: { !$0.isEmpty })
            #expect(results.map { $0["name"] as? String } == ["good.txt"])
            let search = try Program("sonic-search", ["--index", net.indexAddress.description], environment: net.environment)
            _ = try await search.waitForExit()
            #expect(!search.stdout.unicodeScalars.contains(where: { TerminalText.isControl($0) && $0 != "\n" }))
            #expect(seeder.stderr.contains(#"evil\u{1B}]0;pwned\u{7}.txt"#), "stderr: \(seeder.stderr)")
            #expect(!seeder.stderr.unicodeScalars.contains("\u{1B}"))
        }
    }

    /// Defect 8: cancels of ended or unknown requests were remembered forever.
    @Test func cancelsOfEndedRequestsAreForgotten() async throws {
        let bytes = Harness.randomBytes(count: 300 << 10, seed: 98)
        let folder = try Harness.sharedFolder("c.bin", bytes)
        defer { try? FileManager.default.removeItem(at: folder) }
        let contentID = ManifestBuilder.manifest(of: bytes).contentID
        let net = try await TestNetwork()
        try await net.run {
            try await net.addSeeder(folder: folder)
            _ = try await net.waitForSearch(["c.bin"], until: { !$0.isEmpty })
            let client = try RawClient(try await net.plainDoor(to: net.seederAddresses[0]))
            try client.handshake()
            func fetchWhole(_ id: UInt32) -> Int {
                client.send(.obtainRange(RangeRequest(requestID: id, contentID: contentID, offset: 0, length: UInt64(bytes.count))))
                var received = 0
                while let message = client.receive() {
                    if case .data(let block) = message, block.requestID == id { received += Int(block.rawLength) }
                    else if case .end(id) = message { return received }
                    else { Issue.record("unexpected \(message)"); return -1 }
                }
                return -1
            }
            for id in 1000..<1300 { client.send(.cancel(requestID: UInt32(id))) }
            #expect(fetchWhole(5) == bytes.count, "refused after 300 cancels of unknown ids")
            client.send(.cancel(requestID: 5))
            #expect(fetchWhole(5) == bytes.count, "a reused id was taken as cancelled")
        }
    }

    /// A missing output folder is a local write failure (exit 7) that names the folder.
    @Test func aMissingOutputFolderExits7NamingTheFolder() async throws {
        let net = try await TestNetwork()
        try await net.addSeeder(folder: Harness.fixtures)
        let out = try Harness.temporaryDirectory("get")
        defer { try? FileManager.default.removeItem(at: out) }
        let missing = out.appendingPathComponent("no/such")
        try await net.run {
            _ = try await net.waitForSearch([], until: { !$0.isEmpty })
            let name = try #require(NetworkTests.fixtureNames.first)
            let (status, _, program) = try await net.get(name, ["-o", missing.appendingPathComponent("file").path], directory: out)
            #expect(status == 7, "stderr: \(program.stderr)")
            #expect(program.stderr.contains(missing.path))
            #expect(!program.stderr.contains("sonic-part"))
        }
    }
}
