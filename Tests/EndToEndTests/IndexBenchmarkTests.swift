import Foundation
import SonicTestSupport
import Testing

/// `sonic-bench index` at the smallest sizes it accepts: it once divided by zero when there
/// were too few peers to lend the storm its heartbeat and registration sessions.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct IndexBenchmarkTests {
    @Test func runsWithOnePeerAndOneSearcher() async throws {
        let bench = try Program("sonic-bench", ["index", "--peers", "1", "--files-per-peer", "1", "--searchers", "1",
                                                "--storm-seconds", "1", "--json"])
        defer { bench.stopNow() }
        let status = try await bench.waitForExit(timeout: .seconds(120))
        #expect(status == 0, "sonic-bench failed: \(bench.stderr)")
        let report = try JSONSerialization.jsonObject(with: Data(bench.stdout.utf8)) as? [String: Any]
        #expect((report?["files"] as? NSNumber)?.intValue == 1)
        let storm = report?["storm"] as? [String: Any]
        func count(_ kind: String) -> Int { ((storm?[kind] as? [String: Any])?["count"] as? NSNumber)?.intValue ?? 0 }
        #expect(count("heartbeat") > 0)
        #expect(count("registration") > 0)
        // The departure ended with the session's file gone (it throws after a minute otherwise).
        #expect(((report?["departure_seconds"] as? NSNumber)?.doubleValue ?? 0) > 0)
    }
}
