import SonicTestSupport
import Foundation
import SonicCore
import Testing

/// Where downloads land: names of any length, one writer per target, standard output.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct OutputFileTests {
    /// A 254-byte name: `.NAME.sonic-part` would be 266 bytes, over the file system's 255.
    @Test func aNameAsLongAsTheFileSystemAllowsDownloads() async throws {
        let name = String(repeating: "n", count: 250) + ".bin"
        let bytes = Harness.randomBytes(count: 3 << 20, seed: 71)
        let folder = try Harness.sharedFolder(name, bytes)
        let out = try Harness.temporaryDirectory("get")
        defer { [folder, out].forEach { try? FileManager.default.removeItem(at: $0) } }
        let net = try await TestNetwork()
        try await net.run {
            try await net.addSeeder(folder: folder)
            _ = try await net.waitForSearch([], until: { !$0.isEmpty })
            let (status, _, program) = try await net.get(name, [], directory: out)
            #expect(status == 0, "stderr: \(program.stderr)")
            #expect(try Harness.sha256(ofFile: out.appendingPathComponent(name)) == SHA256Hash.of(bytes).hex)
        }
    }

    @Test func aSecondDownloadOfTheSameTargetNamesTheFirstsPID() async throws {
        let bytes = Harness.randomBytes(count: 4 << 20, seed: 72)
        let folder = try Harness.sharedFolder("twice.bin", bytes)
        let out = try Harness.temporaryDirectory("get")
        defer { [folder, out].forEach { try? FileManager.default.removeItem(at: $0) } }
        let net = try await TestNetwork()
        try await net.run {
            try await net.addSeeder(folder: folder)
            _ = try await net.waitForSearch(["twice.bin"], until: { !$0.isEmpty })
            let first = try Program("sonic-get", ["twice.bin", "--json", "--index", net.indexAddress.description,
                                                  "--max-download-rate", "256KiB"], directory: out)
            let part = out.appendingPathComponent(".twice.bin.sonic-part").path
            try await Harness.waitUntil("the first download opened its partial file") {
                guard first.process.isRunning else { throw HarnessError("the first download ended: \(first.stderr)") }
                return FileManager.default.fileExists(atPath: part)
            }
            let (status, json, second) = try await net.get("twice.bin", [], directory: out)
            #expect(status == 7, "stderr: \(second.stderr)")
            #expect(second.stderr.contains("already being downloaded by PID \(first.pid)"), "\(second.stderr)")
            #expect((json?["error"] as? [String: Any])?["code"] as? String == "busy")
            #expect(try await first.waitForExit() == 0, "stderr: \(first.stderr)")
            #expect(try Harness.sha256(ofFile: out.appendingPathComponent("twice.bin")) == SHA256Hash.of(bytes).hex)
            #expect(try FileManager.default.contentsOfDirectory(atPath: out.path) == ["twice.bin"])
        }
    }

    @Test func dashAsOutputStreamsTheVerifiedFileAndLeavesNothing() async throws {
        let bytes = Harness.randomBytes(count: (2 << 20) + 77, seed: 73)
        let folder = try Harness.sharedFolder("pipe.bin", bytes)
        let out = try Harness.temporaryDirectory("get")
        let temp = try Harness.temporaryDirectory("tmp")
        defer { [folder, out, temp].forEach { try? FileManager.default.removeItem(at: $0) } }
        let net = try await TestNetwork()
        try await net.run {
            try await net.addSeeder(folder: folder)
            _ = try await net.waitForSearch(["pipe.bin"], until: { !$0.isEmpty })
            let p = try Program("sonic-get", ["pipe.bin", "-o", "-", "--index", net.indexAddress.description],
                                environment: ["TMPDIR": temp.path], directory: out)
            #expect(try await p.waitForExit() == 0, "stderr: \(p.stderr)")
            #expect(SHA256Hash.of(Array(p.stdoutBytes)) == SHA256Hash.of(bytes))
            #expect(try FileManager.default.contentsOfDirectory(atPath: out.path).isEmpty)
            #expect(try FileManager.default.contentsOfDirectory(atPath: temp.path).isEmpty)
            let refused = try Program("sonic-get", ["pipe.bin", "-o", "-", "--json"], directory: out)
            #expect(try await refused.waitForExit() == 64)
        }
    }

    /// `readme.txt` and `sub/readme.txt` shared: asking for `readme.txt` means the top one.
    @Test func anExactFullNameWinsOverALastComponentMatch() async throws {
        let folder = try Harness.temporaryDirectory("seed")
        try FileManager.default.createDirectory(at: folder.appendingPathComponent("sub"), withIntermediateDirectories: true)
        try Data("top".utf8).write(to: folder.appendingPathComponent("readme.txt"))
        try Data("nested".utf8).write(to: folder.appendingPathComponent("sub/readme.txt"))
        let out = try Harness.temporaryDirectory("get")
        defer { [folder, out].forEach { try? FileManager.default.removeItem(at: $0) } }
        let net = try await TestNetwork()
        try await net.run {
            try await net.addSeeder(folder: folder)
            _ = try await net.waitForSearch(["readme"], until: { $0.count == 2 })
            let (status, json, program) = try await net.get("readme.txt", [], directory: out)
            #expect(status == 0, "stderr: \(program.stderr)")
            #expect(json?["sha256"] as? String == SHA256Hash.of(Array("top".utf8)).hex)
            #expect(try String(contentsOf: out.appendingPathComponent("readme.txt"), encoding: .utf8) == "top")
        }
    }
}
