import Logging
import NIOCore
import ServiceLifecycle
import SonicCore
import SonicNet
import SonicWire
import Synchronization

/// The central index: accepts peer sessions and answers REGISTER, UNREGISTER, HEARTBEAT,
/// SEARCH and EXIT from a shared ``IndexRegistry``. Stores no file data.
public final class IndexServer: Service, Sendable {
    public struct Configuration: Sendable {
        public var host: String
        public var port: Int
        /// A session silent this long is forgotten (its connection closed).
        public var heartbeatTimeout: Duration
        public var limits: IndexRegistry.Limits
        /// The members-only network secret, if any.
        public var secret: NetworkSecret?
        public var frameTimeout: Duration
        public var connections: ConnectionLimiter.Limits

        public init(host: String = "127.0.0.1", port: Int = 5015, heartbeatTimeout: Duration = .seconds(15),
                    limits: IndexRegistry.Limits = .init(), secret: NetworkSecret? = nil,
                    frameTimeout: Duration = .seconds(10),
                    connections: ConnectionLimiter.Limits = .init(total: 4096, perIP: 256)) {
            self.secret = secret
            self.frameTimeout = frameTimeout
            self.connections = connections
            self.host = host
            self.port = port
            self.heartbeatTimeout = heartbeatTimeout
            self.limits = limits
        }
    }

    public let configuration: Configuration
    public let listener: ServerListener
    private let registry: Mutex<IndexRegistry>
    private let sessionCounter = Atomic<UInt64>(0)
    private let logger: Logger

    public var boundAddress: Endpoint { listener.boundAddress }

    private init(configuration: Configuration, listener: ServerListener, logger: Logger) {
        self.configuration = configuration
        self.listener = listener
        self.registry = Mutex(IndexRegistry(limits: configuration.limits))
        self.logger = logger
    }

    /// Binds the listening socket; call ``run()`` to serve.
    public static func bind(_ configuration: Configuration, logger: Logger) async throws -> IndexServer {
        let listener = try await ServerListener.bind(
            host: configuration.host, port: configuration.port,
            protection: .init(idleTimeout: configuration.heartbeatTimeout, frameTimeout: configuration.frameTimeout,
                              connections: configuration.connections))
        return IndexServer(configuration: configuration, listener: listener, logger: logger)
    }

    public func run() async throws {
        try await listener.serveUntilShutdown { connection in await self.handle(connection) }
        logger.info("index stopped")
    }

    /// Sessions and files currently known (for logs and tests).
    public var counts: (sessions: Int, files: Int) {
        registry.withLock { ($0.sessionCount, $0.fileCount) }
    }

    private func handle(_ connection: FrameChannel) async {
        let id = sessionCounter.add(1, ordering: .relaxed).newValue
        var logger = self.logger
        logger[metadataKey: "peer"] = "\(id)"
        let remoteIP = connection.remoteIP
        logger.info("connected", metadata: ["from": "\(connection.remoteDescription)"])
        defer {
            registry.withLock { $0.disconnect(id) }
            logger.info("disconnected; its files are forgotten")
        }
        await ServerConversation.run(connection, sessionID: id, features: [], secret: configuration.secret,
                                     logger: logger) { session, hello in
            // The address handed out is the one we observed, never one the peer claims.
            let address = hello.listenPort > 0 ? remoteIP.map { Endpoint(host: $0, port: Int(hello.listenPort)) } : nil
            registry.withLock { $0.connect(id, address: address, now: .now) }
            logger.info("hello", metadata: ["agent": "\(hello.agent)", "serves": "\(address.map { "\($0)" } ?? "nothing")"])
            try await converse(&session, id: id, logger: logger)
        }
    }

    private func converse(_ session: inout FrameSession, id: UInt64, logger: Logger) async throws {
        while true {
            let message = try await session.receive()
            let now = ContinuousClock.now
            switch message {
            case .register(let files):
                let outcome = registry.withLock { registry in
                    Result { () throws(IndexRegistry.RegistrationError) in
                        try registry.register(id, files: files, now: now)
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
                let removed = registry.withLock { $0.unregister(id, names: names, now: now) }
                logger.info("unregistered \(removed) of \(names.count) file(s)")
                try await session.send(.ok)
            case .heartbeat:
                registry.withLock { $0.touch(id, now: now) }
                try await session.send(.ok)
            case .search(let request):
                let results = registry.withLock { registry in
                    registry.touch(id, now: now)
                    return registry.search(request, excluding: id)
                }
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
