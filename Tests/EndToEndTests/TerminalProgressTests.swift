import SonicTestSupport
import Foundation
import SonicCore
import Testing

/// The progress line as a person sees it: `sonic-get` under a pseudo-terminal (`script`).
@Suite(.serialized, .timeLimit(.minutes(2)))
struct TerminalProgressTests {
    @Test func theLineFitsANarrowTerminalMovesWithinPiecesAndSaysWhatWasResumed() async throws {
        let bytes = Harness.randomBytes(count: 3 << 20, seed: 81)
        let name = "a rather long file name for a narrow terminal.bin"
        let folder = try Harness.sharedFolder(name, bytes)
        let out = try Harness.temporaryDirectory("get")
        defer { [folder, out].forEach { try? FileManager.default.removeItem(at: $0) } }
        let net = try await TestNetwork()
        try await net.run {
            try await net.addSeeder(folder: folder)
            let results = try await net.waitForSearch([], until: { !$0.isEmpty })
            let contentID = try #require(results.first?["content_id"] as? String)
            // An earlier run left the first 2 MiB: pieces 0 to 7 of twelve 256 KiB pieces.
            #expect(Manifest.pieceSize(forFileSize: UInt64(bytes.count)) == 256 << 10)
            var partial = bytes
            for i in (2 << 20)..<partial.count { partial[i] = 0 }
            try Data(partial).write(to: out.appendingPathComponent("." + name + ".sonic-part"))
            let record = #"{"version":1,"contentID":"\#(contentID)","pieceCount":12,"verified":"ff00"}"#
            try Data(record.utf8).write(to: out.appendingPathComponent("." + name + ".sonic-resume"))

            let get = Harness.binDirectory.appendingPathComponent("sonic-get").path
            let command = "'\(get)' '\(name)' --index \(net.indexAddress) --max-download-rate 512KiB"
            let p = try Program("/usr/bin/script", ["-qec", command, "/dev/null"], environment: ["COLUMNS": "41"],
                                directory: out, absolute: true)
            #expect(try await p.waitForExit() == 0, "output: \(p.stdout)")
            #expect(try Harness.sha256(ofFile: out.appendingPathComponent(name)) == SHA256Hash.of(bytes).hex)

            let screen = p.stdout.replacingOccurrences(of: "\u{1B}[K", with: "")
            let redraws = screen.components(separatedBy: "\r").flatMap { $0.components(separatedBy: "\n") }
                .filter { $0.contains("%") && $0.contains("ETA") }
            #expect(redraws.count >= 3, "too few redraws: \(redraws)")
            #expect(redraws.allSatisfy { $0.count <= 40 }, "wider than the terminal: \(redraws)")
            #expect(redraws.contains { $0.contains("…") && $0.contains(".bin") }, "no shortened name: \(redraws)")
            let percentages = Set(redraws.compactMap { $0.split(separator: " ").first { $0.hasSuffix("%") } })
            #expect(percentages.count >= 4, "progress moved only by whole pieces: \(percentages)")
            #expect(screen.contains("resuming 8/12 pieces already verified"), "\(screen)")
            #expect(screen.contains("8/12 pieces resumed"), "\(screen)")
        }
    }
}
