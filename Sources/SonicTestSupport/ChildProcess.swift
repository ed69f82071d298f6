import CSystemShims
import Foundation
import Synchronization

/// A program started with `posix_spawn` and reaped by a thread of its own: what tests and
/// benchmarks start their programs with, instead of Foundation's `Process`.
///
/// Why not `Process`: on Linux its `run()` (swift-corelibs-foundation as shipped with Swift
/// 6.3.1) lists `/proc/self/fd` to close every other descriptor in the child, and copies each
/// entry's declared 256-byte name whole. With a thousand descriptors open (the load tests
/// hold that many connections) an entry can sit at the end of glibc's buffer, the copy runs
/// onto an unmapped page, and the whole test process dies with SIGSEGV (seen here twice in
/// eight full runs; fixed upstream in swift-corelibs-foundation #5472). Here the child closes
/// them with `closefrom`, which reads nothing.
public final class ChildProcess: Sendable {
    public let processIdentifier: pid_t
    private let state = Mutex(State())
    /// Left once the child is reaped.
    private let reaped = DispatchGroup()

    private struct State {
        var exit: (status: Int32, at: ContinuousClock.Instant)?
        var waiting: [CheckedContinuation<Int32, Never>] = []
    }

    /// Starts `executable` with standard input from /dev/null, and standard output and error
    /// onto the descriptors given (/dev/null when nil). The child gets no other descriptor.
    public init(executable: String, arguments: [String], environment: [String: String],
                directory: String? = nil, standardOutput: Int32? = nil, standardError: Int32? = nil) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        for (target, source) in [(Int32(1), standardOutput), (2, standardError)] {
            if let source {
                posix_spawn_file_actions_adddup2(&actions, source, target)
            } else {
                posix_spawn_file_actions_addopen(&actions, target, "/dev/null", O_WRONLY, 0)
            }
        }
        if let directory { sonic_spawn_add_chdir(&actions, directory) }
        sonic_spawn_add_close_from(&actions, 3)
        // Its own process group, as `Process` did: a terminal's Ctrl-C reaches only the test.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP))
        posix_spawnattr_setpgroup(&attributes, 0)

        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { for string in argv + envp { free(string) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
        guard spawned == 0 else {
            throw ProcessFailure("could not start \(executable): \(String(cString: strerror(spawned)))")
        }
        processIdentifier = pid
        reaped.enter()
        Thread.detachNewThread { [self] in reap() }
    }

    /// Waits for the child in `waitpid` (on its own thread, so no pool thread is held).
    private func reap() {
        var status: Int32 = 0
        while waitpid(processIdentifier, &status, 0) < 0 && errno == EINTR {}
        // Exited: its exit code; killed: the signal's number (as `Process` reported it).
        let code = status & 0x7F == 0 ? (status >> 8) & 0xFF : status & 0x7F
        let waiting = state.withLock { s in
            s.exit = (code, .now)
            defer { s.waiting.removeAll() }
            return s.waiting
        }
        reaped.leave()
        for continuation in waiting { continuation.resume(returning: code) }
    }

    public var isRunning: Bool { state.withLock { $0.exit == nil } }

    /// The exit code, or the number of the signal that killed it; 0 while it runs.
    public var terminationStatus: Int32 { state.withLock { $0.exit?.status ?? 0 } }

    /// When it was reaped, nil while it runs: a benchmark's end time, exact where polling
    /// ``isRunning`` would add up to a polling interval.
    public var exitedAt: ContinuousClock.Instant? { state.withLock { $0.exit?.at } }

    /// Blocks until it has exited.
    public func waitUntilExit() { reaped.wait() }

    /// Its ``terminationStatus`` once it has exited.
    public func exited() async -> Int32 {
        await withCheckedContinuation { continuation in
            let status = state.withLock { s -> Int32? in
                guard let exit = s.exit else {
                    s.waiting.append(continuation)
                    return nil
                }
                return exit.status
            }
            if let status { continuation.resume(returning: status) }
        }
    }
}
