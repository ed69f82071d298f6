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
/// What it knows lives in an ``IndexStore``: by default a ``MemoryIndexStore`` (its search
/// storms never hold up a registration or a heartbeat), or a store shared by many index
/// processes.
public final class IndexServer: Service, Sendable {
    public struct Configuration: Sendable {
        /// Where to listen and how to protect connections. Its idle timeout is the heartbeat
        /// timeout: a session silent that long is forgotten (its connection closed).
        public var listener: ServerListener.Settings
        public var limits: IndexLimits

        /// Reads of at most 2 KiB: with NIO's adaptive reads, each session kept the 8 KiB buffer
        /// its REGISTER of 100 files had grown, 80 MiB at 10 000 sessions (docs/PERFORMANCE.md).
        public static let defaultListener = ServerListener.Settings(
            host: "127.0.0.1", port: 5015, idleTimeout: .seconds(15), connections: .init(total: 4096, perIP: 256),
            receiveBufferBytes: 2048)

        public init(listener: ServerListener.Settings = Configuration.defaultListener, limits: IndexLimits = .init()) {
            self.listener = listener
            self.limits = limits
        }
    }

    public let configuration: Configuration
    public let listener: ServerListener
    public let store: any IndexStore
    private let sessionCounter = Atomic<UInt64>(0)
    private let searchCounter = Atomic<UInt64>(0)
    private let peerIDs = Mutex(PeerIDTable())
    private let logger: Logger

    public var boundAddress: Endpoint { listener.boundAddress }

    private init(configuration: Configuration, listener: ServerListener, store: any IndexStore, logger: Logger) {
        self.configuration = configuration
        self.listener = listener
        self.store = store
        self.logger = logger
    }

    /// Binds the listening socket; call ``run()`` to serve. Without a `store`, the index is
    /// kept in memory (``MemoryIndexStore``).
    public static func bind(_ configuration: Configuration, store: (any IndexStore)? = nil,
                            logger: Logger) async throws -> IndexServer {
        let listener = try await ServerListener.bind(configuration.listener, logger: logger)
        return IndexServer(configuration: configuration, listener: listener,
                           store: store ?? MemoryIndexStore(limits: configuration.limits), logger: logger)
    }

    public func run() async throws {
        var failure: (any Error)?
        await withDiscardingTaskGroup { group in
            group.addTask { await self.store.serve() }
            do {
                try await listener.serveUntilShutdown { connection in await self.handle(connection) }
            } catch {
                failure = error
            }
            // Every session has ended: let the store finish what is queued and stop.
            store.finishServing()
        }
        if let failure { throw failure }
        logger.info("index stopped")
    }

    /// Search requests answered since the start (the web status and metrics).
    public var searchesServed: UInt64 { searchCounter.load(ordering: .relaxed) }

    /// Sessions and files of this process (for the web status, logs and tests).
    public var counts: (sessions: Int, files: Int) { store.localCounts }

    private func handle(_ connection: FrameChannel) async {
        let id = sessionCounter.add(1, ordering: .relaxed).newValue
        var logger = self.logger
        logger[metadataKey: "peer"] = "\(id)"
        let remoteIP = connection.remoteIP
        logger.info("connected", metadata: ["from": "\(connection.remoteDescription)"])
        var served: Endpoint?
        await ServerConversation.run(connection, sessionID: id, features: Self.features,
                                     secret: configuration.listener.secret, logger: logger) { session, hello in
            // The address handed out is the one we observed, never one the peer claims.
            let address = hello.listenPort > 0 ? remoteIP.map { Endpoint(host: $0, port: Int(hello.listenPort)) } : nil
            // Its peer id is the one its TLS certificate proved, never one it claims.
            let peerID = try await connection.transportIdentities()?.remote
            try await store.connect(id, address: address)
            if let address, let peerID {
                peerIDs.withLock { $0.connected(id, address: address, id: peerID) }
                served = address
                try await store.recordPeerID(peerID, of: id)
            }
            logger.info("hello", metadata: ["agent": "\(hello.agent)", "serves": "\(address.map { "\($0)" } ?? "nothing")",
                                            "peer-id": "\(peerID.map { "\($0)" } ?? "-")"])
            try await converse(&session, id: id, features: hello.features.intersection(Self.features), logger: logger)
        }
        if let served { peerIDs.withLock { $0.disconnected(id, address: served) } }
        await store.disconnect(id)
        logger.info("disconnected; its files are forgotten")
    }

    /// What the index offers in WELCOME: the swarm feature (partial holders: PARTIAL, and
    /// RESULTS listing them to the sessions that negotiated it).
    static let features: Features = [.swarm]

    private func converse(_ session: inout FrameSession, id: UInt64, features: Features, logger: Logger) async throws {
        while true {
            let message = try await session.receive()
            switch message {
            case .register(let files):
                do {
                    try await store.register(id, files: files)
                    logger.info("registered \(files.count) file(s)", metadata: ["first": "\(files.first?.name ?? "")"])
                    try await session.send(.ok)
                } catch let error as SessionTable.RegistrationError {
                    logger.notice("registration refused", metadata: ["error": "\(error)"])
                    try await session.send(.error(ErrorMessage(.limitExceeded, error.description)))
                } catch {
                    try await session.send(.error(storeFailure(error, logger: logger)))
                }
            case .unregister(let names):
                do {
                    let removed = try await store.unregister(id, names: names)
                    logger.info("unregistered \(removed) of \(names.count) file(s)")
                    try await session.send(.ok)
                } catch {
                    try await session.send(.error(storeFailure(error, logger: logger)))
                }
            case .partial(let contents) where features.contains(.swarm):
                do {
                    try await store.announcePartial(id, contents: contents)
                    logger.info("holds \(contents.count) content(s) in part")
                    try await session.send(.ok)
                } catch let error as PartialHolderTable.AnnouncementError {
                    logger.notice("partial holdings refused", metadata: ["error": "\(error)"])
                    try await session.send(.error(ErrorMessage(.limitExceeded, error.description)))
                } catch {
                    try await session.send(.error(storeFailure(error, logger: logger)))
                }
            case .heartbeat:
                // Liveness is the connection's: any frame resets its idle timer, and a session
                // silent for --heartbeat-timeout is closed, which forgets its files (`handle`).
                try await session.send(.ok)
            case .search(let request):
                do {
                    var found = try await store.search(request, excluding: id)
                    if features.contains(.swarm) && !found.results.isEmpty {
                        found.addPartialPeers(try await store.partialHolders(of: found.results.map(\.contentID),
                                                                             excluding: id))
                    }
                    // A copy of the table (copy on write): the page is measured outside the lock.
                    // Peers of other index processes sharing the store are looked up there.
                    let local = peerIDs.withLock { $0 }
                    let elsewhere = store.isShared && configuration.listener.transport.isOn
                        ? try await store.peerIDs(at: local.unknownAddresses(in: found)) : [:]
                    let results = local.annotated(found, alsoKnown: elsewhere)
                    searchCounter.add(1, ordering: .relaxed)
                    logger.info("search", metadata: [
                        "mode": "\(request.mode)", "query": "\(request.query)", "results": "\(results.total)",
                    ])
                    try await session.send(.searchResults(results))
                } catch {
                    try await session.send(.error(storeFailure(error, logger: logger)))
                }
            case .exit:
                logger.info("exit")
                return
            default:
                throw ErrorMessage(.unexpectedMessage, "\(message.kind) is not an index command")
            }
        }
    }

    /// The answer to a request the store could not serve (its database unreachable, say): the
    /// session stays open, and the peer may retry or ask another index.
    private func storeFailure(_ error: any Error, logger: Logger) -> ErrorMessage {
        logger.error("index store failed", metadata: ["error": "\(String(reflecting: error))"])
        return ErrorMessage(.internalError, "the index store failed; try again or ask another index")
    }
}
