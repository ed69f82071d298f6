import Foundation
import SonicCore
import SonicTestSupport
import Testing

/// Starts the real executables (built next to the test bundle) on loopback and stops them by
/// PID. Every program is started with `--port 0`; its first stdout line says where it listens.
enum Harness {
    /// The folder holding the built `sonic-*` executables (`SONIC_BIN_DIR` overrides, e.g.
    /// to run the load tests against a release build).
    static let binDirectory: URL = {
        if let override = ProcessInfo.processInfo.environment["SONIC_BIN_DIR"] {
            return URL(fileURLWithPath: override)
        }
        var candidates: [URL] = []
        if let exe = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            candidates.append(URL(fileURLWithPath: exe).deletingLastPathComponent())
        }
        candidates.append(URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent())
        let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        candidates.append(packageRoot.appendingPathComponent(".build/debug"))
        for dir in candidates where FileManager.default.isExecutableFile(atPath: dir.appendingPathComponent("sonic-index").path) {
            return dir
        }
        return candidates.last!
    }()

    static let fixtures: URL = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("fixtures")

    /// The environment of a program run with `--tls off`: for the tests of `--tls off` itself.
    /// Hand-made clients and fake peers (``RawClient``, ``FakePeer``) speak plain frames to
    /// programs running with TLS on through ``ForwardingProxy/plainDoor(to:)``.
    static let plain = ["SONIC_TLS": "off"]

    /// `XDG_STATE_HOME` of every program this test run starts: one folder per run.
    static let stateHome: URL = {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("sonic-state-home-\(getpid())")
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }()

    /// A fresh temporary folder, removed by the caller's `defer`.
    static func temporaryDirectory(_ tag: String = "e2e") throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("sonic-\(tag)-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// Polls `condition` until it holds; throws (naming `what`) if it never does within
    /// `timeout`. Tests wait for something observable, never for a fixed time.
    static func waitUntil(_ what: String, timeout: Duration = .seconds(20),
                          _ condition: () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        while try await !condition() {
            guard ContinuousClock.now < deadline else { throw HarnessError("timed out waiting until \(what)") }
            try await Task.sleep(for: .milliseconds(10))
        }
    }

    /// Waits until a download in `folder` has checkpointed verified pieces (its resume
    /// record exists): the moment to interrupt it for a resume test.
    static func waitForCheckpoint(of name: String, in folder: URL, program: Program) async throws {
        let record = folder.appendingPathComponent(".\(name).sonic-resume").path
        try await waitUntil("\(name) has a resume record") {
            guard program.process.isRunning else { throw HarnessError("sonic-get ended early: \(program.stderr)") }
            return FileManager.default.fileExists(atPath: record)
        }
    }

    /// A fresh folder holding one file, `name`, with `bytes`: what a seeder shares.
    static func sharedFolder(_ name: String, _ bytes: [UInt8], tag: String = "seed") throws -> URL {
        let folder = try temporaryDirectory(tag)
        try Data(bytes).write(to: folder.appendingPathComponent(name))
        return folder
    }

    static func sha256(ofFile url: URL) throws -> String {
        try ManifestBuilder.manifest(ofFileAt: url.path).fileHash.hex
    }

    /// Deterministic pseudo-random bytes.
    static func randomBytes(count: Int, seed: UInt64) -> [UInt8] {
        SeededBytes.bytes(count: count, seed: seed)
    }
}

/// One running `sonic-*` program, from the built executables (or any program by path with
/// `absolute`). Stopped (SIGTERM, then SIGKILL) when the test is done with it.
final class Program: ManagedProcess, @unchecked Sendable {
    init(_ name: String, _ arguments: [String], environment: [String: String] = [:], directory: URL? = nil,
         absolute: Bool = false) throws {
        let executable = absolute ? URL(fileURLWithPath: name) : Harness.binDirectory.appendingPathComponent(name)
        // Programs without --state-dir keep their identity and known indexes in this run's own
        // folder, never the user's: ports are reused between runs by programs of other identities.
        let environment = ["XDG_STATE_HOME": Harness.stateHome.path].merging(environment) { _, given in given }
        try super.init(name: name, executable: executable, arguments: arguments, environment: environment,
                       directory: directory)
    }
}

struct HarnessError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

/// An index plus seeders, all stopped at the end of `body`.
final class TestNetwork: @unchecked Sendable {
    let index: Program
    let indexAddress: Endpoint
    private(set) var seeders: [Program] = []
    private(set) var seederAddresses: [Endpoint] = []
    let stateDirectory: URL
    /// Added to every program's environment: `SONIC_TLS=off` for a network without TLS.
    let environment: [String: String]
    let tls: Bool
    /// Plain doors into the network's TLS servers (``plainDoor(to:)``) and TLS fronts of
    /// plain fake peers (``tlsFront(for:)``), stopped with it.
    private var doors: [Endpoint: ForwardingProxy] = [:]
    private var fronts: [ForwardingProxy] = []

    /// `tls: false` runs every program of the network with `--tls off` (through `SONIC_TLS`).
    init(heartbeatTimeout: String = "15s", tls: Bool = true) async throws {
        stateDirectory = try Harness.temporaryDirectory("state")
        self.tls = tls
        environment = tls ? [:] : Harness.plain
        index = try Program("sonic-index", ["--port", "0", "--heartbeat-timeout", heartbeatTimeout], environment: environment)
        indexAddress = try await index.listeningAddress()
    }

    @discardableResult
    /// Seeders share the network's state dir (and so one identity) unless given their own.
    func addSeeder(folder: URL, extra: [String] = [], indexes: String? = nil, environment: [String: String] = [:],
                   stateDirectory: URL? = nil) async throws -> Program {
        let seeder = try Program("sonic-seed", [folder.path, "--index", indexes ?? indexAddress.description,
                                                "--port", "0", "--state-dir", (stateDirectory ?? self.stateDirectory).path,
                                                "--rescan", "1s", "--heartbeat", "1s"] + extra,
                             environment: self.environment.merging(environment) { _, new in new })
        seederAddresses.append(try await seeder.listeningAddress())
        seeders.append(seeder)
        return seeder
    }

    /// Runs `sonic-search --json [args]` until `predicate` holds on the parsed results (bounded).
    func waitForSearch(_ args: [String] = [], timeout: Duration = .seconds(20),
                       until predicate: ([[String: Any]]) -> Bool) async throws -> [[String: Any]] {
        let deadline = ContinuousClock.now + timeout
        var last: [[String: Any]] = []
        var lastSearch: Program?
        while ContinuousClock.now < deadline {
            let search = try await Self.runSearch(indexAddress.description, args, environment: environment)
            (last, lastSearch) = (try Self.results(of: search), search)
            if predicate(last) { return last }
            try await Task.sleep(for: .milliseconds(100))
        }
        // An empty result hides whether nothing registered or the search itself failed.
        var diagnosis = "the last sonic-search exited \(lastSearch?.process.terminationStatus ?? -1), stderr: "
            + (lastSearch?.stderr.suffix(400) ?? "")
        for (i, seeder) in seeders.enumerated() {
            diagnosis += "; seeder \(i) stderr ends: \(seeder.stderr.suffix(600))"
        }
        throw HarnessError("search \(args) never satisfied the condition; last: \(last); \(diagnosis)")
    }

    func search(_ args: [String]) async throws -> [[String: Any]] {
        try await Self.searchJSON(indexAddress.description, args, environment: environment)
    }

    /// `sonic-search --json` against `indexes`; the parsed results (empty on any failure).
    static func searchJSON(_ indexes: String, _ args: [String], environment: [String: String] = [:]) async throws
        -> [[String: Any]] {
        try results(of: try await runSearch(indexes, args, environment: environment))
    }

    /// `sonic-search --json [args]` against `indexes`, run to its end (bounded).
    static func runSearch(_ indexes: String, _ args: [String], environment: [String: String]) async throws -> Program {
        let p = try Program("sonic-search", args + ["--json", "--index", indexes], environment: environment)
        _ = try await p.waitForExit(timeout: .seconds(20))
        return p
    }

    /// The parsed results a `sonic-search --json` printed (empty if it printed none).
    static func results(of search: Program) throws -> [[String: Any]] {
        guard let data = search.stdout.data(using: .utf8), !data.isEmpty,
              let object = try JSONSerialization.jsonObject(with: data) as? [String: Any],
              let results = object["results"] as? [[String: Any]]
        else { return [] }
        return results
    }

    /// Runs `sonic-get` to completion and returns (exit status, parsed --json, the program).
    func get(_ name: String, _ args: [String], directory: URL, timeout: Duration = .seconds(90))
        async throws -> (status: Int32, json: [String: Any]?, program: Program) {
        let p = try Program("sonic-get", [name, "--json", "--index", indexAddress.description] + args,
                            environment: environment, directory: directory)
        let status = try await p.waitForExit(timeout: timeout)
        let json = p.stdout.split(separator: "\n").last.flatMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
        return (status, json, p)
    }

    /// Runs `body`, then stops every program of the network whether `body` succeeded or threw.
    func run(_ body: () async throws -> Void) async throws {
        do {
            try await body()
        } catch {
            await stopAll()
            throw error
        }
        await stopAll()
    }

    /// Where a hand-made client that speaks plain frames (``RawClient``) reaches the TLS
    /// server at `target`: one door per server, for every connection to it.
    func plainDoor(to target: Endpoint) async throws -> Endpoint {
        guard tls else { return target }
        if let door = doors[target] { return door.address }
        let door = try await ForwardingProxy.plainDoor(to: target)
        doors[target] = door
        return door.address
    }

    /// Where the programs of a TLS network reach a fake peer that speaks plain frames at
    /// `plain`: a TLS front with the doors' identity.
    func tlsFront(for plain: Endpoint) async throws -> Endpoint {
        guard tls else { return plain }
        let front = try await ForwardingProxy(target: plain, listenTLS: ForwardingProxy.testCredentials)
        fronts.append(front)
        return front.address
    }

    func stopAll() async {
        for proxy in Array(doors.values) + fronts { await proxy.stop() }
        for s in seeders { await s.stop() }
        await index.stop()
        try? FileManager.default.removeItem(at: stateDirectory)
    }
}
