import Foundation
import SonicCore
import SonicTestSupport

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
final class RunningProgram: ManagedProcess, @unchecked Sendable {
    init(_ binaries: Binaries, _ name: String, _ arguments: [String], directory: URL? = nil) throws {
        try super.init(name: name, executable: binaries.url(name), arguments: arguments, directory: directory)
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
        for p in all.reversed() { p.stopNow() }
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
