import Foundation
import SonicCore
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

    static func sha256(ofFile url: URL) throws -> String {
        try ManifestBuilder.manifest(ofFileAt: url.path).fileHash.hex
    }

    /// Deterministic pseudo-random bytes (xorshift), fast enough for tens of MiB.
    static func randomBytes(count: Int, seed: UInt64) -> [UInt8] {
        var state = seed | 1
        var out = [UInt8](repeating: 0, count: count)
        out.withUnsafeMutableBytes { raw in
            let words = raw.bindMemory(to: UInt64.self)
            for i in 0..<words.count {
                state ^= state << 13
                state ^= state >> 7
                state ^= state << 17
                words[i] = state
            }
            for i in (words.count * 8)..<count {
                state ^= state << 13
                state ^= state >> 7
                state ^= state << 17
                raw[i] = UInt8(truncatingIfNeeded: state)
            }
        }
        return out
    }
}

/// One running program. Stopped (SIGTERM, then SIGKILL) when the test is done with it.
final class Program: @unchecked Sendable {
    let name: String
    let process = Process()
    private let stdoutPipe = Pipe()
    private let stderrPipe = Pipe()
    private let lock = NSLock()
    private var stdoutData = Data()
    private var stderrData = Data()

    /// Starts `name` from the built programs, or the program at path `name` with `absolute`.
    init(_ name: String, _ arguments: [String], environment: [String: String] = [:], directory: URL? = nil,
         absolute: Bool = false) throws {
        self.name = name
        process.executableURL = absolute ? URL(fileURLWithPath: name) : Harness.binDirectory.appendingPathComponent(name)
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        env["SONIC_INDEX"] = nil
        for (k, v) in environment { env[k] = v }
        process.environment = env
        if let directory { process.currentDirectoryURL = directory }
        process.standardOutput = stdoutPipe
        process.standardError = stderrPipe
        process.standardInput = FileHandle.nullDevice
        stdoutPipe.fileHandleForReading.readabilityHandler = { [weak self] h in
            let d = h.availableData
            guard let self, !d.isEmpty else { return }
            self.lock.withLock { self.stdoutData.append(d) }
        }
        stderrPipe.fileHandleForReading.readabilityHandler = { [weak self] h in
            let d = h.availableData
            guard let self, !d.isEmpty else { return }
            self.lock.withLock { self.stderrData.append(d) }
        }
        try process.run()
    }

    var pid: Int32 { process.processIdentifier }
    var stdout: String { lock.withLock { String(decoding: stdoutData, as: UTF8.self) } }
    /// Standard output as bytes (a file streamed with `-o -`).
    var stdoutBytes: Data { lock.withLock { stdoutData } }
    var stderr: String { lock.withLock { String(decoding: stderrData, as: UTF8.self) } }

    /// Waits (bounded) for the `listening on HOST:PORT` line and returns the address.
    func listeningAddress(timeout: Duration = .seconds(20)) async throws -> Endpoint {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let line = stdout.split(separator: "\n").first, line.hasPrefix("listening on "),
               let endpoint = Endpoint(parsing: String(line.dropFirst("listening on ".count))) {
                return endpoint
            }
            guard process.isRunning else { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw HarnessError("\(name) did not announce its address; stderr:\n\(stderr)")
    }

    /// Waits (bounded) for exit and returns the status.
    @discardableResult
    func waitForExit(timeout: Duration = .seconds(60)) async throws -> Int32 {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning {
            guard ContinuousClock.now < deadline else {
                kill(pid, SIGKILL)
                throw HarnessError("\(name) did not exit within \(timeout); stderr:\n\(stderr)")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        // Let the pipes drain.
        try await Task.sleep(for: .milliseconds(50))
        return process.terminationStatus
    }

    func signal(_ sig: Int32) {
        if process.isRunning { kill(pid, sig) }
    }

    /// SIGTERM, then SIGKILL if it is still running after `grace`.
    func stop(grace: Duration = .seconds(5)) async {
        guard process.isRunning else { return }
        kill(pid, SIGTERM)
        let deadline = ContinuousClock.now + grace
        while process.isRunning && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
        if process.isRunning { kill(pid, SIGKILL) }
        process.waitUntilExit()
    }

    deinit {
        if process.isRunning { kill(pid, SIGKILL) }
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

    init(heartbeatTimeout: String = "15s") async throws {
        stateDirectory = try Harness.temporaryDirectory("state")
        index = try Program("sonic-index", ["--port", "0", "--heartbeat-timeout", heartbeatTimeout])
        indexAddress = try await index.listeningAddress()
    }

    @discardableResult
    func addSeeder(folder: URL, extra: [String] = [], indexes: String? = nil) async throws -> Program {
        let seeder = try Program("sonic-seed", [folder.path, "--index", indexes ?? indexAddress.description,
                                                "--port", "0", "--state-dir", stateDirectory.path,
                                                "--rescan", "1s", "--heartbeat", "1s"] + extra)
        seederAddresses.append(try await seeder.listeningAddress())
        seeders.append(seeder)
        return seeder
    }

    /// Runs `sonic-search --json [args]` until `predicate` holds on the parsed results (bounded).
    func waitForSearch(_ args: [String] = [], timeout: Duration = .seconds(20),
                       until predicate: ([[String: Any]]) -> Bool) async throws -> [[String: Any]] {
        let deadline = ContinuousClock.now + timeout
        var last: [[String: Any]] = []
        while ContinuousClock.now < deadline {
            last = try await search(args)
            if predicate(last) { return last }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw HarnessError("search \(args) never satisfied the condition; last: \(last)")
    }

    func search(_ args: [String]) async throws -> [[String: Any]] {
        try await Self.searchJSON(indexAddress.description, args)
    }

    /// `sonic-search --json` against `indexes`; the parsed results (empty on any failure).
    static func searchJSON(_ indexes: String, _ args: [String]) async throws -> [[String: Any]] {
        let p = try Program("sonic-search", args + ["--json", "--index", indexes])
        _ = try await p.waitForExit(timeout: .seconds(20))
        guard let data = p.stdout.data(using: .utf8), !data.isEmpty,
              let object = try JSONSerialization.jsonObject(with: data) as? [String: Any],
              let results = object["results"] as? [[String: Any]]
        else { return [] }
        return results
    }

    /// Runs `sonic-get` to completion and returns (exit status, parsed --json, the program).
    func get(_ name: String, _ args: [String], directory: URL, timeout: Duration = .seconds(90))
        async throws -> (status: Int32, json: [String: Any]?, program: Program) {
        let p = try Program("sonic-get", [name, "--json", "--index", indexAddress.description] + args, directory: directory)
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

    func stopAll() async {
        for s in seeders { await s.stop() }
        await index.stop()
        try? FileManager.default.removeItem(at: stateDirectory)
    }
}
