import Foundation
import SonicTestSupport
import Testing

/// The README's first command, `sonic-bench demo`: an index and three seeders over fixtures/,
/// every fixture swarm-downloaded and checked, and what it prints along the way.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct DemoTests {
    @Test func theDemoDownloadsEveryFixtureAndShowsTheSearchListingLineByLine() async throws {
        let demo = try Program("sonic-bench", ["demo"])
        defer { demo.stopNow() }
        let status = try await demo.waitForExit(timeout: .seconds(150))
        #expect(status == 0, "sonic-bench demo failed: \(demo.stderr)")
        let lines = demo.stdout.split(separator: "\n").map(String.init)
        // The search listing: a header line, then one line per file with its three peers
        // (it was once printed as one line with escaped newlines).
        #expect(!demo.stdout.contains("\\u{A}"), "\(demo.stdout)")
        #expect(lines.contains { $0.hasPrefix("NAME") && $0.hasSuffix("PEERS") }, "\(demo.stdout)")
        #expect(lines.contains { $0.hasPrefix("readme.txt") && $0.hasSuffix(" 3") }, "\(demo.stdout)")
        // Every fixture plus the generated swarm file, each checked by SHA-256.
        let fixtures = try FileManager.default.subpathsOfDirectory(atPath: Harness.fixtures.path).filter { path in
            var isDirectory: ObjCBool = false
            _ = FileManager.default.fileExists(atPath: Harness.fixtures.appendingPathComponent(path).path,
                                              isDirectory: &isDirectory)
            return !isDirectory.boolValue
        }
        #expect(lines.last == "all \(fixtures.count + 1) files arrived byte-identical; every process started is now stopped.",
                "\(demo.stdout)")
        #expect(lines.filter { $0.contains(" ok ") }.count == fixtures.count + 1)
    }
}
