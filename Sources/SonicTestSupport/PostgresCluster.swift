import Foundation

/// A private PostgreSQL server for tests and benchmarks: `initdb` into a fresh temporary
/// folder, `pg_ctl start` on a free loopback port (no other address, its socket in that
/// folder), `pg_ctl stop -m fast` afterwards. Nothing is shared with a PostgreSQL the
/// machine may run.
///
/// The server refuses to run as root: started by root, every PostgreSQL program runs as the
/// `postgres` user (`runuser -u postgres --`) and the folder is handed to that user.
public final class PostgresCluster: Sendable {
    /// The folder of Debian's PostgreSQL programs (`/usr/lib/postgresql/VERSION/bin`, the
    /// newest), or `SONIC_POSTGRES_BIN`; nil when PostgreSQL is not installed.
    public static let binDirectory: URL? = {
        if let override = ProcessInfo.processInfo.environment["SONIC_POSTGRES_BIN"] {
            return URL(fileURLWithPath: override)
        }
        let root = "/usr/lib/postgresql"
        let versions = (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []
        return versions.compactMap(Int.init).sorted().reversed()
            .map { URL(fileURLWithPath: "\(root)/\($0)/bin") }
            .first { FileManager.default.isExecutableFile(atPath: $0.appendingPathComponent("initdb").path) }
    }()

    /// True when the PostgreSQL server programs are installed (tests that need them run).
    public static var isInstalled: Bool { binDirectory != nil }

    /// The superuser every cluster is created with (trusted on loopback: no password).
    public static let user = "postgres"

    public let directory: URL
    public let port: Int
    private let bin: URL

    private var dataDirectory: URL { directory.appendingPathComponent("data") }
    private var logFile: URL { directory.appendingPathComponent("server.log") }

    private init(directory: URL, port: Int, bin: URL) {
        self.directory = directory
        self.port = port
        self.bin = bin
    }

    /// The `--store` address of `database` on this server.
    public func url(database: String = "postgres") -> String {
        "postgres://\(Self.user)@127.0.0.1:\(port)/\(database)"
    }

    /// Creates and starts a cluster, then runs `body` with it and stops it, whether `body`
    /// succeeds or throws.
    public static func with<Value>(_ body: (PostgresCluster) async throws -> Value) async throws -> Value {
        let cluster = try await start()
        do {
            let value = try await body(cluster)
            await cluster.stop()
            return value
        } catch {
            await cluster.stop()
            throw error
        }
    }

    /// Creates and starts a cluster. Throws when PostgreSQL is not installed or does not start.
    ///
    /// The programs run on a thread of their own: waiting seconds for `initdb` on one of the
    /// few threads that run Swift tasks would starve every other test of the process.
    ///
    /// With `lowPriority` (tests), the server runs under `nice`: the machine's few cores then
    /// go first to the test process and its timing-sensitive neighbours.
    public static func start(lowPriority: Bool = true) async throws -> PostgresCluster {
        try await offloaded { try startNow(lowPriority: lowPriority) }
    }

    /// ``start()`` for synchronous callers (a benchmark's command line).
    public static func startNow(lowPriority: Bool = false) throws -> PostgresCluster {
        guard let bin = binDirectory else { throw ProcessFailure("PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb)") }
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("sonic-pg-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        if asRoot { try run(URL(fileURLWithPath: "/bin/chown"), ["-R", "\(user):\(user)", directory.path], asPostgres: false) }
        let data = directory.appendingPathComponent("data").path
        try run(bin.appendingPathComponent("initdb"),
                ["-D", data, "-U", user, "-E", "UTF8", "--locale=C", "-A", "trust", "--no-sync"], nice: lowPriority)
        // A port is free when asked and may be taken before the server binds it: try a few.
        var lastError: (any Error)?
        for _ in 0..<5 {
            let cluster = PostgresCluster(directory: directory, port: try freeLoopbackPort(), bin: bin)
            do {
                try cluster.pgctl(nice: lowPriority, ["start", "-w", "-t", "60", "-l", cluster.logFile.path, "-o",
                                   "-p \(cluster.port) -c listen_addresses=127.0.0.1 -c unix_socket_directories=\(directory.path) -c fsync=off -c synchronous_commit=off -c full_page_writes=off"])
                return cluster
            } catch {
                lastError = error
            }
        }
        try? FileManager.default.removeItem(at: directory)
        throw lastError ?? ProcessFailure("PostgreSQL did not start")
    }

    /// Runs one SQL statement with `psql` and returns its unaligned, tuples-only output.
    @discardableResult
    public func sql(_ statement: String, database: String = "postgres") async throws -> String {
        let (psql, port) = (bin.appendingPathComponent("psql"), port)
        return try await Self.offloaded {
            try Self.run(psql, ["-h", "127.0.0.1", "-p", "\(port)", "-U", Self.user, "-d", database, "-X", "-q", "-A", "-t",
                                "-v", "ON_ERROR_STOP=1", "-c", statement])
        }
    }

    /// Stops the server (fast shutdown: open sessions are ended) and removes its folder.
    public func stop() async {
        _ = try? await Self.offloaded { self.stopNow() }
    }

    /// ``stop()`` for synchronous callers.
    public func stopNow() {
        _ = try? pgctl(["stop", "-m", "fast", "-w", "-t", "60"])
        try? FileManager.default.removeItem(at: directory)
    }

    /// Runs blocking `work` on a new thread, not on one of the threads that run Swift tasks.
    private static func offloaded<Value: Sendable>(_ work: @escaping @Sendable () throws -> Value) async throws -> Value {
        try await withCheckedThrowingContinuation { continuation in
            Thread { continuation.resume(with: Result { try work() }) }.start()
        }
    }

    private func pgctl(nice: Bool = false, _ arguments: [String]) throws {
        try Self.run(bin.appendingPathComponent("pg_ctl"), ["-D", dataDirectory.path] + arguments,
                     nice: nice, logOnFailure: logFile)
    }

    private static var asRoot: Bool { geteuid() == 0 }

    /// Runs a program to its end (as `postgres` when we are root) and returns its output;
    /// throws with its output and `logOnFailure`'s text when it fails.
    ///
    /// Its output goes to a file, not a pipe: `pg_ctl start` leaves the server running with
    /// the same standard output, so a pipe would not end until the server did.
    @discardableResult
    private static func run(_ program: URL, _ arguments: [String], asPostgres: Bool = true, nice: Bool = false,
                            logOnFailure: URL? = nil) throws -> String {
        var argv = asPostgres && asRoot
            ? ["/usr/sbin/runuser", "-u", user, "--", program.path] + arguments
            : [program.path] + arguments
        if nice { argv = ["/usr/bin/nice", "-n", "10"] + argv }
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("sonic-pg-out-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: output) }
        let fd = open(output.path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw ProcessFailure("cannot create \(output.path)") }
        let child: ChildProcess
        do {
            defer { close(fd) }
            child = try ChildProcess(executable: argv[0], arguments: Array(argv.dropFirst()),
                                     environment: ProcessInfo.processInfo.environment,
                                     standardOutput: fd, standardError: fd)
        }
        child.waitUntilExit()
        let status = child.terminationStatus
        let text = (try? String(contentsOf: output, encoding: .utf8)) ?? ""
        guard status == 0 else {
            let log = logOnFailure.flatMap { try? String(contentsOf: $0, encoding: .utf8) } ?? ""
            throw ProcessFailure("\(program.lastPathComponent) \(arguments.joined(separator: " ")) failed (\(status)): \(text)\(log)")
        }
        return text
    }
}
