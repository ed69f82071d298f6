import SonicTestSupport
import Foundation
import SonicCore
import SonicWire
import Testing

/// Multi-source downloads against real seeders, and the faults they must survive.
@Suite(.serialized, .timeLimit(.minutes(4)))
struct SwarmTests {
    /// `count` seeder folders each holding `name` with the same bytes.
    static func sharedFolders(_ count: Int, name: String, bytes: [UInt8]) throws -> [URL] {
        try (0..<count).map { i in try Harness.sharedFolder(name, bytes, tag: "seed\(i)") }
    }

    static func peers(_ json: [String: Any]?) -> [[String: Any]] { json?["peers"] as? [[String: Any]] ?? [] }

    static func waitForPeers(_ net: TestNetwork, name: String, count: Int) async throws {
        _ = try await net.waitForSearch([], until: { results in
            results.contains { ($0["name"] as? String) == name && ($0["peers"] as? [String])?.count == count }
        })
    }

    @Test func fourSeedersAllContributeAndTheBytesMatch() async throws {
        let bytes = Harness.randomBytes(count: 16 << 20, seed: 1)
        let folders = try Self.sharedFolders(4, name: "swarm.bin", bytes: bytes)
        let out = try Harness.temporaryDirectory("get")
        let net = try await TestNetwork()
        defer { (folders + [out]).forEach { try? FileManager.default.removeItem(at: $0) } }
        try await net.run {
            for f in folders { try await net.addSeeder(folder: f, extra: ["--max-upload-rate", "6MiB"]) }
            try await Self.waitForPeers(net, name: "swarm.bin", count: 4)
            let (status, json, program) = try await net.get("swarm.bin", [], directory: out)
            #expect(status == 0, "stderr: \(program.stderr)")
            #expect(json?["sha256"] as? String == SHA256Hash.of(bytes).hex)
            #expect(try Harness.sha256(ofFile: out.appendingPathComponent("swarm.bin")) == SHA256Hash.of(bytes).hex)
            let peers = Self.peers(json)
            #expect(peers.count == 4)
            for peer in peers {
                #expect((peer["pieces"] as? Int ?? 0) > 0, "a seeder did not contribute: \(peer)")
                #expect(peer["banned"] as? Bool == false)
            }
            #expect(peers.reduce(0) { $0 + ($1["bytes"] as? Int ?? 0) } == bytes.count)
        }
    }

    @Test func aSeederKilledMidDownloadIsSurvived() async throws {
        let bytes = Harness.randomBytes(count: 24 << 20, seed: 2)
        let folders = try Self.sharedFolders(3, name: "kill.bin", bytes: bytes)
        let out = try Harness.temporaryDirectory("get")
        let net = try await TestNetwork()
        defer { (folders + [out]).forEach { try? FileManager.default.removeItem(at: $0) } }
        try await net.run {
            // 24 MiB at 3 × 2 MiB/s: four seconds, so that the first checkpoint (after a second)
            // is seen before the download ends even on a loaded machine.
            for f in folders { try await net.addSeeder(folder: f, extra: ["--max-upload-rate", "2MiB"]) }
            try await Self.waitForPeers(net, name: "kill.bin", count: 3)
            let get = try Program("sonic-get", ["kill.bin", "--json", "--index", net.indexAddress.description,
                                                "--peer-timeout", "2s"], directory: out)
            try await Harness.waitForCheckpoint(of: "kill.bin", in: out, program: get)
            net.seeders[0].signal(SIGKILL)
            let status = try await get.waitForExit()
            #expect(status == 0, "stderr: \(get.stderr)")
            #expect(try Harness.sha256(ofFile: out.appendingPathComponent("kill.bin")) == SHA256Hash.of(bytes).hex)
            let json = get.stdout.split(separator: "\n").last.flatMap {
                try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
            }
            let killed = Self.peers(json).first { ($0["address"] as? String) == net.seederAddresses[0].description }
            #expect((killed?["failures"] as? Int ?? 0) > 0, "the killed seeder's failure was not recorded: \(String(describing: killed))")
        }
    }

    @Test func aSeederServingWrongBytesIsBannedAndTheFileIsStillRight() async throws {
        let bytes = Harness.randomBytes(count: 8 << 20, seed: 3)
        let folders = try Self.sharedFolders(3, name: "rot.bin", bytes: bytes)
        let out = try Harness.temporaryDirectory("get")
        let net = try await TestNetwork()
        defer { (folders + [out]).forEach { try? FileManager.default.removeItem(at: $0) } }
        try await net.run {
            // The corrupt seeder is the fast one, so it delivers pieces of its own (not only
            // endgame copies that lose the race and are discarded unchecked).
            try await net.addSeeder(folder: folders[0])
            for f in folders.dropFirst() { try await net.addSeeder(folder: f, extra: ["--max-upload-rate", "4MiB"]) }
            try await Self.waitForPeers(net, name: "rot.bin", count: 3)
            // Bit rot under unchanged metadata: seeder 0 keeps announcing the old content id
            // (same size, same mtime) but now serves different bytes in every piece.
            try Self.corruptKeepingMetadata(folders[0].appendingPathComponent("rot.bin"), pieceSize: Manifest.pieceSize(forFileSize: UInt64(bytes.count)))
            let (status, json, program) = try await net.get("rot.bin", ["--peer-timeout", "3s"], directory: out)
            #expect(status == 0, "stderr: \(program.stderr)")
            #expect(try Harness.sha256(ofFile: out.appendingPathComponent("rot.bin")) == SHA256Hash.of(bytes).hex)
            let bad = Self.peers(json).first { ($0["address"] as? String) == net.seederAddresses[0].description }
            #expect(bad?["banned"] as? Bool == true, "corrupt seeder not banned: \(String(describing: bad))")
            #expect(bad?["pieces"] as? Int == 0)
            for good in Self.peers(json) where (good["address"] as? String) != net.seederAddresses[0].description {
                #expect(good["banned"] as? Bool == false)
            }
        }
    }

    @Test func aStalledPeerGivesItsPiecesBack() async throws {
        // Large enough that the stall detector (1 s) fires long before the good peer could
        // finish and rescue the stalled pieces by endgame duplication.
        let bytes = Harness.randomBytes(count: 24 << 20, seed: 4)
        let folders = try Self.sharedFolders(1, name: "stall.bin", bytes: bytes)
        let out = try Harness.temporaryDirectory("get")
        let net = try await TestNetwork()
        defer { (folders + [out]).forEach { try? FileManager.default.removeItem(at: $0) } }
        try await net.run {
            try await net.addSeeder(folder: folders[0], extra: ["--max-upload-rate", "8MiB"])
            try await Self.waitForPeers(net, name: "stall.bin", count: 1)
            let manifest = ManifestBuilder.manifest(of: bytes)
            let staller = try await FakePeer(network: net, file: SharedFile(name: "stall.bin", manifest: manifest),
                conversation: FakePeer.stalling(manifest))
            defer { staller.stop() }
            try await Self.waitForPeers(net, name: "stall.bin", count: 2)
            let (status, json, program) = try await net.get("stall.bin", ["--peer-timeout", "1s"], directory: out)
            #expect(status == 0, "stderr: \(program.stderr)")
            #expect(try Harness.sha256(ofFile: out.appendingPathComponent("stall.bin")) == SHA256Hash.of(bytes).hex)
            let stalled = Self.peers(json).first { ($0["address"] as? String) == "127.0.0.1:\(staller.port)" }
            #expect(stalled?["pieces"] as? Int == 0)
            #expect((stalled?["failures"] as? Int ?? 0) > 0)
            #expect((json?["retried_pieces"] as? Int ?? 0) > 0, "the stalled peer's pieces were not handed out again")
        }
    }

    @Test func killMinus9ThenRerunResumesAndEndsByteIdentical() async throws {
        let bytes = Harness.randomBytes(count: 24 << 20, seed: 5)
        let folders = try Self.sharedFolders(2, name: "resume.bin", bytes: bytes)
        let out = try Harness.temporaryDirectory("get")
        let net = try await TestNetwork()
        defer { (folders + [out]).forEach { try? FileManager.default.removeItem(at: $0) } }
        try await net.run {
            for f in folders { try await net.addSeeder(folder: f) }
            try await Self.waitForPeers(net, name: "resume.bin", count: 2)
            let first = try Program("sonic-get", ["resume.bin", "--json", "--index", net.indexAddress.description,
                                                  "--max-download-rate", "8MiB"], directory: out)
            try await Harness.waitForCheckpoint(of: "resume.bin", in: out, program: first)
            first.signal(SIGKILL)
            _ = try await first.waitForExit()
            #expect(!FileManager.default.fileExists(atPath: out.appendingPathComponent("resume.bin").path),
                    "a half-written file appeared under the final name")
            #expect(FileManager.default.fileExists(atPath: out.appendingPathComponent(".resume.bin.sonic-part").path))
            let (status, json, program) = try await net.get("resume.bin", [], directory: out)
            #expect(status == 0, "stderr: \(program.stderr)")
            #expect((json?["reused_pieces"] as? Int ?? 0) > 0, "nothing was reused: \(String(describing: json))")
            #expect(try Harness.sha256(ofFile: out.appendingPathComponent("resume.bin")) == SHA256Hash.of(bytes).hex)
            #expect(try FileManager.default.contentsOfDirectory(atPath: out.path) == ["resume.bin"])
        }
    }

    @Test func ctrlCSavesTheResumeRecordAndExits130() async throws {
        let bytes = Harness.randomBytes(count: 16 << 20, seed: 9)
        let folders = try Self.sharedFolders(1, name: "interrupt.bin", bytes: bytes)
        let out = try Harness.temporaryDirectory("get")
        let net = try await TestNetwork()
        defer { (folders + [out]).forEach { try? FileManager.default.removeItem(at: $0) } }
        try await net.run {
            try await net.addSeeder(folder: folders[0], extra: ["--max-upload-rate", "6MiB"])
            try await Self.waitForPeers(net, name: "interrupt.bin", count: 1)
            let get = try Program("sonic-get", ["interrupt.bin", "--index", net.indexAddress.description], directory: out)
            try await Harness.waitForCheckpoint(of: "interrupt.bin", in: out, program: get)
            get.signal(SIGINT)
            #expect(try await get.waitForExit(timeout: .seconds(10)) == 130, "stderr: \(get.stderr)")
            #expect(get.stderr.contains("resume"))
            let record = out.appendingPathComponent(".interrupt.bin.sonic-resume")
            #expect(FileManager.default.fileExists(atPath: record.path), "no resume record after SIGINT")
            #expect(!FileManager.default.fileExists(atPath: out.appendingPathComponent("interrupt.bin").path))
            let (status, json, program) = try await net.get("interrupt.bin", [], directory: out)
            #expect(status == 0, "stderr: \(program.stderr)")
            #expect((json?["reused_pieces"] as? Int ?? 0) > 0)
            #expect(try Harness.sha256(ofFile: out.appendingPathComponent("interrupt.bin")) == SHA256Hash.of(bytes).hex)
        }
    }

    @Test func aSeederWhoseFileChangedOnDiskIsDroppedAndCorruptsNothing() async throws {
        let bytes = Harness.randomBytes(count: 12 << 20, seed: 10)
        let folders = try Self.sharedFolders(2, name: "edited.bin", bytes: bytes)
        let out = try Harness.temporaryDirectory("get")
        let net = try await TestNetwork()
        defer { (folders + [out]).forEach { try? FileManager.default.removeItem(at: $0) } }
        try await net.run {
            // Long rescan interval: the seeder still announces the old content when it is asked.
            try await net.addSeeder(folder: folders[0], extra: ["--rescan", "10m"])
            try await net.addSeeder(folder: folders[1], extra: ["--max-upload-rate", "8MiB"])
            try await Self.waitForPeers(net, name: "edited.bin", count: 2)
            try Data(Harness.randomBytes(count: 12 << 20, seed: 99)).write(to: folders[0].appendingPathComponent("edited.bin"))
            let (status, json, program) = try await net.get("edited.bin", [], directory: out)
            #expect(status == 0, "stderr: \(program.stderr)")
            #expect(try Harness.sha256(ofFile: out.appendingPathComponent("edited.bin")) == SHA256Hash.of(bytes).hex)
            let edited = Self.peers(json).first { ($0["address"] as? String) == net.seederAddresses[0].description }
            #expect(edited?["pieces"] as? Int == 0)
            let reason = (edited?["error"] as? String) ?? ""
            #expect(reason.contains("changed"), "\(String(describing: edited))")
        }
    }

    @Test func noPeerLeftExitsNonZeroKeepsThePartialAndAResumeFinishesIt() async throws {
        let bytes = Harness.randomBytes(count: 8 << 20, seed: 6)
        let folders = try Self.sharedFolders(1, name: "alone.bin", bytes: bytes)
        let out = try Harness.temporaryDirectory("get")
        let net = try await TestNetwork()
        defer { (folders + [out]).forEach { try? FileManager.default.removeItem(at: $0) } }
        try await net.run {
            try await net.addSeeder(folder: folders[0], extra: ["--max-upload-rate", "3MiB"])
            try await Self.waitForPeers(net, name: "alone.bin", count: 1)
            let get = try Program("sonic-get", ["alone.bin", "--json", "--index", net.indexAddress.description],
                                  directory: out)
            try await Harness.waitForCheckpoint(of: "alone.bin", in: out, program: get)
            net.seeders[0].signal(SIGKILL)
            #expect(try await get.waitForExit() == 4, "stderr: \(get.stderr)")
            #expect(get.stderr.contains("pieces missing"))
            #expect(!FileManager.default.fileExists(atPath: out.appendingPathComponent("alone.bin").path))
            #expect(FileManager.default.fileExists(atPath: out.appendingPathComponent(".alone.bin.sonic-part").path))
            #expect(FileManager.default.fileExists(atPath: out.appendingPathComponent(".alone.bin.sonic-resume").path))

            try await net.addSeeder(folder: folders[0])
            try await Self.waitForPeers(net, name: "alone.bin", count: 1)
            let (status, json, program) = try await net.get("alone.bin", [], directory: out)
            #expect(status == 0, "stderr: \(program.stderr)")
            #expect((json?["reused_pieces"] as? Int ?? 0) > 0)
            #expect(try Harness.sha256(ofFile: out.appendingPathComponent("alone.bin")) == SHA256Hash.of(bytes).hex)
        }
    }

    @Test func twoContentsUnderOneNameAreNeverMixed() async throws {
        let a = Harness.randomBytes(count: 3 << 20, seed: 7)
        let b = Harness.randomBytes(count: 3 << 20, seed: 8)
        let folderA = try Self.sharedFolders(1, name: "same.bin", bytes: a)[0]
        let folderB = try Self.sharedFolders(1, name: "same.bin", bytes: b)[0]
        let out = try Harness.temporaryDirectory("get")
        let net = try await TestNetwork()
        defer { [folderA, folderB, out].forEach { try? FileManager.default.removeItem(at: $0) } }
        try await net.run {
            try await net.addSeeder(folder: folderA)
            try await net.addSeeder(folder: folderB)
            _ = try await net.waitForSearch(["same"], until: { $0.count == 2 })
            let (ambiguous, _, program) = try await net.get("same.bin", [], directory: out)
            #expect(ambiguous == 1)
            #expect(program.stderr.contains("2 different contents"))
            #expect(try FileManager.default.contentsOfDirectory(atPath: out.path).isEmpty)

            let idB = ManifestBuilder.manifest(of: b).contentID
            let (status, json, program2) = try await net.get("same.bin", ["--hash", String(idB.hex.prefix(10))], directory: out)
            #expect(status == 0, "stderr: \(program2.stderr)")
            #expect(try Harness.sha256(ofFile: out.appendingPathComponent("same.bin")) == SHA256Hash.of(b).hex)
            #expect(Self.peers(json).map { $0["address"] as? String } == [net.seederAddresses[1].description])
        }
    }

    /// Flips bytes in every piece of the file in place, then restores its timestamps, so the
    /// seeder's size + mtime checks cannot notice.
    static func corruptKeepingMetadata(_ url: URL, pieceSize: Int) throws {
        let fd = open(url.path, O_RDWR)
        guard fd >= 0 else { throw HarnessError("cannot open \(url.path)") }
        defer { close(fd) }
        var st = stat()
        fstat(fd, &st)
        var offset = 0
        while offset < Int(st.st_size) {
            var byte: UInt8 = 0
            pread(fd, &byte, 1, off_t(offset + 100))
            byte ^= 0xff
            pwrite(fd, &byte, 1, off_t(offset + 100))
            offset += pieceSize
        }
        var times = [st.st_atim, st.st_mtim]
        futimens(fd, &times)
    }
}
