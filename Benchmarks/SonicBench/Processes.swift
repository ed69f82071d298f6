import Foundation
import SonicCore

/// Finds the sonic-* executables beside this one, building any that are missing with the same
/// configuration (`swift run sonic-bench` builds only sonic-bench itself).
struct Binaries {
    let directory: URL

    static let programs = ["sonic-index", "sonic-seed", "sonic-get", "sonic-search"]

    static func locate(override: String?) throws -> Binaries {
        let directory = override.map { URL(fileURLWithPath: $0) }
            ?? URL(fileURLWithPath: (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
                ?? CommandLine.arguments[0]).deletingLastPathComponent()
        let missing = programs.filter { !FileManager.default.isExecutableFile(atPath: directory.appendingPathComponent($0).path) }
        if !missing.isEmpty {
            guard override == nil, let root = packageRoot(from: directory) else {
                throw BenchError("missing \(missing.joined(separator: ", ")) in \(directory.path)")
            }
            let configuration = directory.path.contains("/release") ? "release" : "debug"
            FileHandle.standardError.write(Data("building \(missing.joined(separator: ", ")) (\(configuration))…\n".utf8))
            let build = Process()
            build.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            // One plain build: `swift build` honours only the last `--product` it is given.
            build.arguments = ["swift", "build", "-c", configuration, "--package-path", root.path]
            try build.run()
            build.waitUntilExit()
            guard build.terminationStatus == 0 else { throw BenchError("building \(missing) failed") }
        }
        return Binaries(directory: directory)
    }

    /// The package folder (holding Package.swift) above `directory`, if any.
    static func packageRoot(from directory: URL) -> URL? {
        var url = directory
        for _ in 0..<8 {
            if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path)
                && FileManager.default.fileExists(atPath: url.appendingPathComponent("Sources").path) {
                return url
            }
            url.deleteLastPathComponent()
        }
        return nil
    }

    func url(_ program: String) -> URL { directory.appendingPathComponent(program) }
}

struct BenchError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

/// A program started by the benchmark, stopped by its PID (SIGTERM, then SIGKILL).
final class RunningProgram: @unchecked Sendable {
    let name: String
    let process = Process()
    private let lock = NSLock()
    private var output = Data()
    private var errors = Data()

    init(_ binaries: Binaries, _ name: String, _ arguments: [String], directory: URL? = nil) throws {
        self.name = name
        process.executableURL = binaries.url(name)
        process.arguments = arguments
        if let directory { process.currentDirectoryURL = directory }
        var environment = ProcessInfo.processInfo.environment
        environment["SONIC_INDEX"] = nil
        process.environment = environment
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        out.fileHandleForReading.readabilityHandler = { [weak self] h in
            let d = h.availableData
            guard let self, !d.isEmpty else { return }
            self.lock.withLock { self.output.append(d) }
        }
        err.fileHandleForReading.readabilityHandler = { [weak self] h in
            let d = h.availableData
            guard let self, !d.isEmpty else { return }
            self.lock.withLock { self.errors.append(d) }
        }
        try process.run()
    }

    var stdout: String { lock.withLock { String(decoding: output, as: UTF8.self) } }
    var stderr: String { lock.withLock { String(decoding: errors, as: UTF8.self) } }

    /// The `listening on HOST:PORT` address (bounded wait).
    func listeningAddress(timeout: Duration = .seconds(30)) async throws -> Endpoint {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let line = stdout.split(separator: "\n").first, line.hasPrefix("listening on "),
               let endpoint = Endpoint(parsing: String(line.dropFirst("listening on ".count))) {
                return endpoint
            }
            guard process.isRunning else { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw BenchError("\(name) did not start: \(stderr)")
    }

    /// Waits for exit (bounded); returns the status.
    func waitForExit(timeout: Duration) async throws -> Int32 {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning {
            guard ContinuousClock.now < deadline else {
                kill(process.processIdentifier, SIGKILL)
                throw BenchError("\(name) did not finish within \(timeout)")
            }
            try await Task.sleep(for: .milliseconds(5))
        }
        try await Task.sleep(for: .milliseconds(30))
        return process.terminationStatus
    }

    func stop() {
        guard process.isRunning else { return }
        kill(process.processIdentifier, SIGTERM)
        let deadline = Date().addingTimeInterval(5)
        while process.isRunning && Date() < deadline { usleep(10_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }
}

/// Every program a run started, so all of them are stopped however the run ends.
final class ProgramSet: @unchecked Sendable {
    private let lock = NSLock()
    private var programs: [RunningProgram] = []

    func add(_ p: RunningProgram) -> RunningProgram {
        lock.withLock { programs.append(p) }
        return p
    }

    func stopAll() {
        let all = lock.withLock { programs }
        for p in all.reversed() { p.stop() }
        lock.withLock { programs.removeAll() }
    }
}

/// A small local network: one index and seeders, on loopback.
struct LocalNetwork {
    let index: RunningProgram
    let indexAddress: Endpoint
    var seeders: [RunningProgram] = []

    static func start(_ binaries: Binaries, programs: ProgramSet) async throws -> LocalNetwork {
        let index = programs.add(try RunningProgram(binaries, "sonic-index", ["--port", "0", "--log-level", "warning"]))
        return LocalNetwork(index: index, indexAddress: try await index.listeningAddress())
    }

    mutating func addSeeder(_ binaries: Binaries, programs: ProgramSet, folder: URL, stateDirectory: URL,
                            extra: [String] = []) async throws {
        let seeder = programs.add(try RunningProgram(
            binaries, "sonic-seed",
            [folder.path, "--index", indexAddress.description, "--port", "0", "--state-dir", stateDirectory.path,
             "--log-level", "warning"] + extra))
        _ = try await seeder.listeningAddress()
        seeders.append(seeder)
    }

    /// Waits (bounded) until `name` is listed with `peers` holders.
    func waitForHolders(_ binaries: Binaries, name: String?, count: Int, peers: Int, timeout: Duration = .seconds(120)) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let search = try RunningProgram(binaries, "sonic-search", ["--json", "--index", indexAddress.description])
            _ = try await search.waitForExit(timeout: .seconds(30))
            if let json = try? JSONSerialization.jsonObject(with: Data(search.stdout.utf8)) as? [String: Any],
               let results = json["results"] as? [[String: Any]] {
                let relevant = results.filter { name == nil || ($0["name"] as? String) == name }
                if relevant.count >= count && relevant.allSatisfy({ ($0["peers"] as? [String])?.count == peers }) { return }
            }
            try await Task.sleep(for: .milliseconds(200))
        }
        throw BenchError("the seeders did not all register within \(timeout)")
    }
}
