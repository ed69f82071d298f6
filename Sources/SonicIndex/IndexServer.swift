import Logging
import NIOCore
import ServiceLifecycle
import SonicCore
import SonicNet
import SonicWire
import Synchronization

/// The central index: accepts peer sessions and answers REGISTER, UNREGISTER, HEARTBEAT,
/// SEARCH and EXIT. Stores no file data.
///
/// Sessions update a ``SessionTable`` under a lock held only for that update; the changes it
/// returns go, in order, to the ``SearchLoop``, which owns the ``SearchIndex`` and answers
/// searches on its own task. A search storm therefore never holds up a registration or a
/// heartbeat.
public final class IndexServer: Service, Sendable {
    public struct Configuration: Sendable {
        /// Where to listen and how to protect connections. Its idle timeout is the heartbeat
        /// timeout: a session silent that long is forgotten (its connection closed).
        public var listener: ServerListener.Settings
        public var limits: IndexLimits

        public static let defaultListener = ServerListener.Settings(
            host: "127.0.0.1", port: 5015, idleTimeout: .seconds(15), connections: .init(total: 4096, perIP: 256))

        public init(listener: ServerListener.Settings = Configuration.defaultListener, limits: IndexLimits = .init()) {
            self.listener = listener
            self.limits = limits
        }
    }

    public let configuration: Configuration
    public let listener: ServerListener
    private let sessions: Mutex<SessionTable>
    private let searchLoop: SearchLoop
    private let sessionCounter = Atomic<UInt64>(0)
    private let searchCounter = Atomic<UInt64>(0)
    private let logger: Logger

    public var boundAddress: Endpoint { listener.boundAddress }

    private init(configuration: Configuration, listener: ServerListener, logger: Logger) {
        self.configuration = configuration
        self.listener = listener
        self.sessions = Mutex(SessionTable(limits: configuration.limits))
        self.searchLoop = SearchLoop(limits: configuration.limits)
        self.logger = logger
    }

    /// Binds the listening socket; call ``run()`` to serve.
    public static func bind(_ configuration: Configuration, logger: Logger) async throws -> IndexServer {
        let listener = try await ServerListener.bind(configuration.listener)
        return IndexServer(configuration: configuration, listener: listener, logger: logger)
    }

    public func run() async throws {
        var failure: (any Error)?
        await withDiscardingTaskGroup { group in
            group.addTask { await self.searchLoop.run() }
            do {
                try await listener.serveUntilShutdown { connection in await self.handle(connection) }
            } catch {
                failure = error
            }
            // Every session has ended: let the search loop finish what is queued and stop.
            searchLoop.finish()
        }
        if let failure { throw failure }
        logger.info("index stopped")
    }

    /// Search requests answered since the start (the web status and metrics).
    public var searchesServed: UInt64 { searchCounter.load(ordering: .relaxed) }

    /// Sessions and files currently known (for logs and tests).
    public var counts: (sessions: Int, files: Int) {
        sessions.withLock { ($0.sessionCount, $0.fileCount) }
    }

    private func handle(_ connection: FrameChannel) async {
        let id = sessionCounter.add(1, ordering: .relaxed).newValue
        var logger = self.logger
        logger[metadataKey: "peer"] = "\(id)"
        let remoteIP = connection.remoteIP
        logger.info("connected", metadata: ["from": "\(connection.remoteDescription)"])
        defer {
            update { $0.disconnect(id) }
            logger.info("disconnected; its files are forgotten")
        }
        await ServerConversation.run(connection, sessionID: id, features: [], secret: configuration.listener.secret,
                                     logger: logger) { session, hello in
            // The address handed out is the one we observed, never one the peer claims.
            let address = hello.listenPort > 0 ? remoteIP.map { Endpoint(host: $0, port: Int(hello.listenPort)) } : nil
            update { $0.connect(id, address: address) }
            logger.info("hello", metadata: ["agent": "\(hello.agent)", "serves": "\(address.map { "\($0)" } ?? "nothing")"])
            try await converse(&session, id: id, logger: logger)
        }
    }

    /// Applies one event to the session table and queues its changes for the search loop,
    /// under the table's lock so that changes reach the loop in the order they happened.
    /// Returns how many changes there were.
    @discardableResult
    private func update(_ event: (inout SessionTable) -> [IndexChange]) -> Int {
        sessions.withLock { table in
            let changes = event(&table)
            searchLoop.submit(changes)
            return changes.count
        }
    }

    private func converse(_ session: inout FrameSession, id: UInt64, logger: Logger) async throws {
        while true {
            let message = try await session.receive()
            switch message {
            case .register(let files):
                let outcome = sessions.withLock { table in
                    Result { () throws(SessionTable.RegistrationError) in
                        searchLoop.submit(try table.register(id, files: files))
                    }
                }
                switch outcome {
                case .success:
                    logger.info("registered \(files.count) file(s)", metadata: ["first": "\(files.first?.name ?? "")"])
                    try await session.send(.ok)
                case .failure(let error):
                    logger.notice("registration refused", metadata: ["error": "\(error)"])
                    try await session.send(.error(ErrorMessage(.limitExceeded, error.description)))
                }
            case .unregister(let names):
                let removed = update { $0.unregister(id, names: names) }
                logger.info("unregistered \(removed) of \(names.count) file(s)")
                try await session.send(.ok)
            case .heartbeat:
                // Liveness is the connection's: any frame resets its idle timer, and a session
                // silent for --heartbeat-timeout is closed, which forgets its files (`defer` above).
                try await session.send(.ok)
            case .search(let request):
                let results = await searchLoop.search(request, excluding: id)
                searchCounter.add(1, ordering: .relaxed)
                logger.info("search", metadata: [
                    "mode": "\(request.mode)", "query": "\(request.query)", "results": "\(results.total)",
                ])
                try await session.send(.searchResults(results))
            case .exit:
                logger.info("exit")
                return
            default:
                throw ErrorMessage(.unexpectedMessage, "\(message.kind) is not an index command")
            }
        }
    }
}
