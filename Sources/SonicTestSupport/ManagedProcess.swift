import Foundation
import SonicCore

/// A program started by a test or a benchmark: its output captured, its `listening on`
/// address read, and stopped by its PID (SIGTERM, then SIGKILL), never by name.
open class ManagedProcess: @unchecked Sendable {
    public let name: String
    public let process = Process()
    private let lock = NSLock()
    private var stdoutData = Data()
    private var stderrData = Data()
    private var exitInstant: ContinuousClock.Instant?

    /// Starts `executable`. `SONIC_INDEX` is removed from the environment so a user's
    /// setting never points a test at a real index; `environment` is added on top.
    public init(name: String, executable: URL, arguments: [String], environment: [String: String] = [:],
                directory: URL? = nil) throws {
        self.name = name
        process.executableURL = executable
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        env["SONIC_INDEX"] = nil
        for (k, v) in environment { env[k] = v }
        process.environment = env
        if let directory { process.currentDirectoryURL = directory }
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        out.fileHandleForReading.readabilityHandler = { [weak self] h in
            let d = h.availableData
            guard let self, !d.isEmpty else { return }
            self.lock.withLock { self.stdoutData.append(d) }
        }
        err.fileHandleForReading.readabilityHandler = { [weak self] h in
            let d = h.availableData
            guard let self, !d.isEmpty else { return }
            self.lock.withLock { self.stderrData.append(d) }
        }
        process.terminationHandler = { [weak self] _ in
            guard let self else { return }
            self.lock.withLock { self.exitInstant = .now }
        }
        try process.run()
    }

    /// When the program was seen to exit (reaped), nil while it runs: a benchmark's end
    /// time, exact where polling ``Process/isRunning`` would add up to a polling interval.
    public var exitedAt: ContinuousClock.Instant? { lock.withLock { exitInstant } }

    public var pid: Int32 { process.processIdentifier }
    public var stdout: String { lock.withLock { String(decoding: stdoutData, as: UTF8.self) } }
    /// Standard output as bytes (a file streamed with `-o -`).
    public var stdoutBytes: Data { lock.withLock { stdoutData } }
    public var stderr: String { lock.withLock { String(decoding: stderrData, as: UTF8.self) } }

    /// Resident memory now (`VmRSS`), in bytes; 0 once the process is gone.
    public var residentBytes: Int { Self.statusBytes("VmRSS", of: pid) }
    /// Peak resident memory so far (`VmHWM`), in bytes; 0 once the process is gone.
    public var peakResidentBytes: Int { Self.statusBytes("VmHWM", of: pid) }

    /// A `kB` field of `/proc/PID/status`, in bytes.
    static func statusBytes(_ field: String, of pid: Int32) -> Int {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix(field + ":") }),
              let kib = Int(line.split(separator: " ").dropFirst().first ?? "")
        else { return 0 }
        return kib * 1024
    }

    /// Waits (bounded) for the `listening on HOST:PORT` line and returns the address.
    public func listeningAddress(timeout: Duration = .seconds(20)) async throws -> Endpoint {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let line = stdout.split(separator: "\n").first, line.hasPrefix("listening on "),
               let endpoint = Endpoint(parsing: String(line.dropFirst("listening on ".count))) {
                return endpoint
            }
            guard process.isRunning else { break }
            try await Task.sleep(for: .milliseconds(10))
        }
        throw ProcessFailure("\(name) did not announce its address; stderr:\n\(stderr)")
    }

    /// Waits (bounded) for the `peer id ID` line (printed after `listening on` with TLS on)
    /// and returns ID as printed.
    public func announcedPeerID(timeout: Duration = .seconds(20)) async throws -> String {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let line = stdout.split(separator: "\n").first(where: { $0.hasPrefix("peer id ") }) {
                return String(line.dropFirst("peer id ".count))
            }
            guard process.isRunning else { break }
            try await Task.sleep(for: .milliseconds(10))
        }
        throw ProcessFailure("\(name) did not announce its peer id; stderr:\n\(stderr)")
    }

    /// Waits (bounded) for exit and returns the status; kills the program at the deadline.
    @discardableResult
    public func waitForExit(timeout: Duration = .seconds(60)) async throws -> Int32 {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning {
            guard ContinuousClock.now < deadline else {
                kill(pid, SIGKILL)
                throw ProcessFailure("\(name) did not exit within \(timeout); stderr:\n\(stderr)")
            }
            try await Task.sleep(for: .milliseconds(5))
        }
        process.waitUntilExit()
        // The readability handlers may still hold the last bytes: let the pipes drain.
        try await Task.sleep(for: .milliseconds(30))
        return process.terminationStatus
    }

    public func signal(_ sig: Int32) {
        if process.isRunning { kill(pid, sig) }
    }

    /// SIGTERM, then SIGKILL if it is still running after `grace`.
    public func stop(grace: Duration = .seconds(5)) async {
        guard process.isRunning else { return }
        kill(pid, SIGTERM)
        let deadline = ContinuousClock.now + grace
        while process.isRunning && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(10))
        }
        if process.isRunning { kill(pid, SIGKILL) }
        process.waitUntilExit()
    }

    /// ``stop(grace:)`` for synchronous callers (a `defer`, a cleanup without `await`).
    public func stopNow(graceSeconds: Double = 5) {
        guard process.isRunning else { return }
        kill(pid, SIGTERM)
        let deadline = Date().addingTimeInterval(graceSeconds)
        while process.isRunning && Date() < deadline { usleep(10_000) }
        if process.isRunning { kill(pid, SIGKILL) }
        process.waitUntilExit()
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }
}

/// A managed program failed to start, announce itself or exit in time.
public struct ProcessFailure: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
