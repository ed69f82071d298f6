import Foundation
import SonicCore

/// A program started by a test or a benchmark: its output captured, its `listening on`
/// address read, and stopped by its PID (SIGTERM, then SIGKILL), never by name.
open class ManagedProcess: @unchecked Sendable {
    public let name: String
    public let process: ChildProcess
    private let lock = NSLock()
    private var stdoutData = Data()
    private var stderrData = Data()
    /// Output pipes not at end of file yet.
    private var openOutputs = 2
    /// The read ends of the output pipes (closed when this goes away).
    private var outputs: [FileHandle] = []

    /// Starts `executable`. `SONIC_INDEX` is removed from the environment so a user's
    /// setting never points a test at a real index; `environment` is added on top.
    public init(name: String, executable: URL, arguments: [String], environment: [String: String] = [:],
                directory: URL? = nil) throws {
        self.name = name
        var env = ProcessInfo.processInfo.environment
        env["SONIC_INDEX"] = nil
        for (k, v) in environment { env[k] = v }
        let out = try Self.pipe(), err = try Self.pipe()
        defer { close(out.write); close(err.write) }
        do {
            process = try ChildProcess(executable: executable.path, arguments: arguments, environment: env,
                                       directory: directory?.path, standardOutput: out.write, standardError: err.write)
        } catch {
            close(out.read)
            close(err.read)
            throw error
        }
        outputs = [read(out.read) { [weak self] d in self?.lock.withLock { self?.stdoutData.append(d) } },
                   read(err.read) { [weak self] d in self?.lock.withLock { self?.stderrData.append(d) } }]
    }

    /// A pipe (a child gets no descriptor but those it is given: ``ChildProcess``).
    private static func pipe() throws -> (read: Int32, write: Int32) {
        var fds: [Int32] = [0, 0]
        guard Glibc.pipe(&fds) == 0 else { throw ProcessFailure("pipe: \(String(cString: strerror(errno)))") }
        return (fds[0], fds[1])
    }

    /// Collects what arrives on `descriptor` until end of file.
    private func read(_ descriptor: Int32, into append: @escaping @Sendable (Data) -> Void) -> FileHandle {
        let handle = FileHandle(fileDescriptor: descriptor, closeOnDealloc: true)
        handle.readabilityHandler = { [weak self] h in
            let d = h.availableData
            guard d.isEmpty else { return append(d) }
            // End of file: without this the handler would be called again and again.
            h.readabilityHandler = nil
            guard let self else { return }
            self.lock.withLock { self.openOutputs -= 1 }
        }
        return handle
    }

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
        let timedOut = await withTaskGroup(of: Bool.self) { group in
            group.addTask { [process] in _ = await process.exited(); return false }
            // Cancelled (the exit came first, or the caller was cancelled): ends at once.
            group.addTask { try? await Task.sleep(for: timeout); return true }
            let timedOut = await group.next() ?? false
            group.cancelAll()
            // The exit the first task waits for, if it has not come.
            if timedOut { kill(pid, SIGKILL) }
            return timedOut
        }
        try Task.checkCancellation()
        if timedOut { throw ProcessFailure("\(name) did not exit within \(timeout); stderr:\n\(stderr)") }
        // What it wrote just before exiting may still be in the pipes: read to their end.
        let drained = ContinuousClock.now + .seconds(2)
        while lock.withLock({ openOutputs > 0 }) && ContinuousClock.now < drained {
            try await Task.sleep(for: .milliseconds(1))
        }
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
