import Logging
import PostgresNIO
import ServiceLifecycle
import SonicCore
import SonicIndex
import SonicWire
import Synchronization

/// An ``IndexStore`` in a PostgreSQL database that any number of index processes share: a
/// client may search on any of them and finds the peers registered on every other.
///
/// Registrations stay soft state. Each process has a row in `sonic_index_processes` whose
/// heartbeat it refreshes every fifth of the heartbeat timeout; every session it serves
/// references that row. Each process also deletes the rows of processes whose heartbeat is
/// older than three fifths of the timeout, so the sessions of a process that died without
/// saying so (`kill -9`, a lost machine) are gone within the timeout (``PostgresSchema``).
/// A graceful shutdown deletes the process's own row.
///
/// Run it as a ``Service`` in the same group as the ``PostgresClient`` it was given (before
/// it) and the ``IndexServer`` (after it): the group stops the server first, then this,
/// then the client. Sessions that arrive before the process row exists wait for it.
public final class PostgresIndexStore: IndexStore, Service {
    public struct Configuration: Sendable {
        public var limits: IndexLimits
        /// How long a process's heartbeat may be stale before any other process deletes its
        /// sessions: the index's `--heartbeat-timeout`.
        public var heartbeatTimeout: Duration
        /// Shown in `sonic_index_processes.label` (host and port, for whoever reads the table).
        public var label: String

        public init(limits: IndexLimits = IndexLimits(), heartbeatTimeout: Duration = .seconds(15), label: String) {
            self.limits = limits
            self.heartbeatTimeout = heartbeatTimeout
            self.label = label
        }

        var heartbeatInterval: Duration { heartbeatTimeout / 5 }
        /// Three missed heartbeats: deleted at most a sweep (a fifth) later, within the timeout.
        var staleAfter: Duration { heartbeatTimeout * 3 / 5 }
    }

    /// The database deleted this process's row (it missed its heartbeats for too long): its
    /// sessions are gone from the shared index, so the process stops rather than serve them.
    public struct ProcessExpired: Error, CustomStringConvertible {
        public var description: String {
            "this index process missed its heartbeats and was expired by another; its sessions are gone"
        }
    }

    let client: PostgresClient
    let configuration: Configuration
    let logger: Logger
    /// Which sessions this process serves and which names each shares (no file details):
    /// what checking a registration against the limits needs, with the memory store's rules.
    let sessions: Mutex<SessionTable>

    /// This process's own sessions and files (other processes' are in the database only).
    public var localCounts: (sessions: Int, files: Int) {
        sessions.withLock { ($0.sessionCount, $0.fileCount) }
    }
    /// The sessions that have a row in `sonic_sessions` (those that serve files).
    let sessionsWithRows = Mutex(Set<UInt64>())
    /// This process's row id, once ``run()`` has created it.
    let processID = ReadinessGate<Int64>()
    /// Tests set it to stand for a process that stalls: its heartbeat stops being refreshed,
    /// while it still checks that its row exists and sweeps.
    let heartbeatPaused = Atomic<Bool>(false)

    public init(client: PostgresClient, configuration: Configuration, logger: Logger) {
        self.client = client
        self.configuration = configuration
        self.logger = logger
        self.sessions = Mutex(SessionTable(limits: configuration.limits))
    }

    /// Creates the tables if needed and this process's row, then keeps its heartbeat fresh
    /// and expires dead processes until graceful shutdown, when it deletes its own row.
    public func run() async throws {
        let id: Int64
        do {
            try await PostgresSchema.create(on: client, logger: logger)
            id = try await registerProcess()
        } catch {
            processID.fail(error)
            throw error
        }
        processID.open(id)
        logger.info("index store ready", metadata: ["process": "\(id)"])
        do {
            try await cancelWhenGracefulShutdown { try await self.keepAlive(id) }
        } catch is CancellationError {}
        try await client.query("DELETE FROM sonic_index_processes WHERE id = \(id)", logger: logger)
        logger.info("index store left the database; its sessions are removed")
    }

    public func serve() async {}
    public func finishServing() {}

    // MARK: Liveness

    private func registerProcess() async throws -> Int64 {
        let rows = try await client.query(
            "INSERT INTO sonic_index_processes (label) VALUES (\(configuration.label)) RETURNING id", logger: logger)
        for try await id in rows.decode(Int64.self) { return id }
        throw PostgresStoreError("the database returned no id for this process")
    }

    /// Refreshes the heartbeat and expires stale processes, every ``Configuration/heartbeatInterval``.
    /// A database that does not answer is logged and retried; finding this process's own row
    /// gone ends it (``ProcessExpired``).
    private func keepAlive(_ id: Int64) async throws {
        let staleSeconds = Double(configuration.staleAfter.components.seconds)
            + Double(configuration.staleAfter.components.attoseconds) / 1e18
        while true {
            try await Task.sleep(for: configuration.heartbeatInterval)
            do {
                let refresh = !heartbeatPaused.load(ordering: .relaxed)
                let beat = try await client.query(
                    """
                    UPDATE sonic_index_processes SET heartbeat = CASE WHEN \(refresh) THEN now() ELSE heartbeat END
                    WHERE id = \(id) RETURNING id
                    """, logger: logger)
                var alive = false
                for try await _ in beat.decode(Int64.self) { alive = true }
                guard alive else { throw ProcessExpired() }
                let expired = try await client.query(
                    """
                    DELETE FROM sonic_index_processes
                    WHERE heartbeat < now() - make_interval(secs => \(staleSeconds)) AND id <> \(id)
                    RETURNING id, label
                    """, logger: logger)
                for try await (gone, label) in expired.decode((Int64, String).self) {
                    logger.notice("expired a silent index process and its sessions",
                                  metadata: ["process": "\(gone)", "label": "\(label)"])
                }
            } catch let error as ProcessExpired {
                throw error
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                logger.warning("index store heartbeat failed", metadata: ["error": "\(String(reflecting: error))"])
            }
        }
    }

    // MARK: Sessions

    /// A session that serves nothing (a client that only searches or downloads) gets no row:
    /// it cannot register files, and searches need only its number to leave its files out.
    public func connect(_ session: UInt64, address: Endpoint?) async throws {
        let process = try await processID.value()
        _ = sessions.withLock { $0.connect(session, address: address) }
        guard let address else { return }
        sessionsWithRows.withLock { _ = $0.insert(session) }
        try await client.query(
            """
            INSERT INTO sonic_sessions (process, session, host, port)
            VALUES (\(process), \(Int64(bitPattern: session)), \(address.host), \(Int32(address.port)))
            ON CONFLICT (process, session) DO UPDATE SET host = EXCLUDED.host, port = EXCLUDED.port
            """, logger: logger)
    }

    public func disconnect(_ session: UInt64) async {
        _ = sessions.withLock { $0.disconnect(session) }
        let hadRow = sessionsWithRows.withLock { $0.remove(session) != nil }
        guard hadRow, let process = processID.current else { return }
        do {
            try await client.query(
                "DELETE FROM sonic_sessions WHERE process = \(process) AND session = \(Int64(bitPattern: session))", logger: logger)
        } catch {
            // The rows go with this process's row: at shutdown (when the sessions' tasks are
            // cancelled, hence no warning then), or when it stops beating.
            logger.log(level: error is CancellationError ? .debug : .warning, "could not remove a session",
                       metadata: ["error": "\(String(reflecting: error))"])
        }
    }
}

/// A failure of the store that is not the database's own error.
struct PostgresStoreError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
