import SonicTestSupport
import Foundation
import SonicCore
import Testing

/// Everyday mistakes get one line a person can act on, prefixed with the program's name,
/// the documented exit code, and with `--json` a JSON error object on standard output.
@Suite(.serialized, .timeLimit(.minutes(2)))
struct ReadableErrorTests {
    static func run(_ program: String, _ args: [String]) async throws -> (Int32, Program) {
        let p = try Program(program, args)
        return (try await p.waitForExit(timeout: .seconds(20)), p)
    }

    @Test func aRefusedIndexIsOneSentenceAndAJSONErrorObject() async throws {
        let (socket, port) = loopbackSocket(listening: false)  // bound, not listening: refuses
        defer { close(socket) }
        let (status, p) = try await Self.run("sonic-search", ["--json", "--index", "127.0.0.1:\(port)"])
        #expect(status == 3)
        #expect(p.stderr == "sonic-search: cannot reach the index at 127.0.0.1:\(port) (connection refused); "
                + "is sonic-index running there? (--index or SONIC_INDEX)\n")
        let object = try JSONSerialization.jsonObject(with: Data(p.stdout.utf8)) as? [String: Any]
        let error = object?["error"] as? [String: Any]
        #expect(error?["code"] as? String == "index_unavailable")
        #expect((error?["message"] as? String)?.hasPrefix("cannot reach the index") == true)
    }

    @Test func aPortInUseIsNamedWithTheWayOut() async throws {
        let net = try await TestNetwork()
        try await net.run {
            let (status, p) = try await Self.run("sonic-index", ["--port", "\(net.indexAddress.port)"])
            #expect(status == 1)
            #expect(p.stderr.hasPrefix("sonic-index: cannot listen on \(net.indexAddress) (address already in use)"))
            #expect(p.stderr.contains("--port 0"))
            #expect(!p.stderr.contains("Error:") && !p.stderr.contains("errno"))
        }
    }

    @Test func aSeederPortGivenAsTheIndexIsCalledAPeer() async throws {
        let net = try await TestNetwork()
        try await net.addSeeder(folder: Harness.fixtures)
        try await net.run {
            let (status, p) = try await Self.run("sonic-search", ["--index", net.seederAddresses[0].description])
            #expect(status == 3)
            #expect(p.stderr.contains("a peer answered there, not an index"), "\(p.stderr)")
        }
    }

    @Test func aURLAsIndexIsRefusedWithTheAcceptedForm() async throws {
        for value in ["http://127.0.0.1:5015", "127.0.0.1:5015/x", "user@127.0.0.1:5015"] {
            let (status, p) = try await Self.run("sonic-search", ["--index", value])
            #expect(status == 64, "\(value)")
            #expect(p.stderr.contains("--index takes HOST:PORT"), "\(value): \(p.stderr)")
        }
    }

    @Test func everyProgramHasVersionAndGetAcceptsOnlyItsCompressModes() async throws {
        for program in ["sonic-index", "sonic-seed", "sonic-get", "sonic-search"] {
            let (status, p) = try await Self.run(program, ["--version"])
            #expect(status == 0, "\(program)")
            #expect(p.stdout.trimmingCharacters(in: .whitespacesAndNewlines).first?.isNumber == true, "\(program): \(p.stdout)")
        }
        let (helpStatus, help) = try await Self.run("sonic-get", ["--help"])
        #expect(helpStatus == 0)
        let compressLine = help.stdout.split(separator: "\n").first { $0.contains("--compress") } ?? ""
        #expect(compressLine.contains("auto") && !compressLine.contains("always"), "\(compressLine)")
        let (status, _) = try await Self.run("sonic-get", ["x", "--compress", "always"])
        #expect(status == 64)
    }

    @Test func badSizesAndDurationsListTheAcceptedForms() async throws {
        for (option, value, says) in [("--max-download-rate", "-5", "must not be negative"),
                                      ("--max-download-rate", "abc", "20M or 20MiB"),
                                      ("--max-download-rate", "0.5", "is not a size"),
                                      ("--peer-timeout", "-1", "must not be negative"),
                                      ("--peer-timeout", "soon", "500ms, 15s")] {
            let (status, p) = try await Self.run("sonic-get", ["x", option, value, "--index", "127.0.0.1:1"])
            #expect(status == 64, "\(option) \(value)")
            #expect(p.stderr.contains(says), "\(option) \(value): \(p.stderr)")
            #expect(p.stderr.hasPrefix("sonic-get: ") && !p.stderr.contains("Error:"), "\(p.stderr)")
        }
    }

    @Test func aSeederPointedAtASeederSaysSoAndStops() async throws {
        let net = try await TestNetwork()
        try await net.addSeeder(folder: Harness.fixtures)
        try await net.run {
            let state = try Harness.temporaryDirectory("state")
            defer { try? FileManager.default.removeItem(at: state) }
            let p = try Program("sonic-seed", [Harness.fixtures.path, "--port", "0", "--state-dir", state.path,
                                               "--index", net.seederAddresses[0].description])
            #expect(try await p.waitForExit(timeout: .seconds(20)) == 1)
            #expect(p.stderr.contains("sonic-seed: \(net.seederAddresses[0]) is not an index"), "\(p.stderr)")
            #expect(!p.stderr.contains("index is back"))
        }
    }
}
