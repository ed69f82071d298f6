import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import SonicCore
import SonicNet
import Synchronization

/// A running peer's upload side: the peer server, the folder rescans, and one announcer per
/// index, as one service that stops gracefully on SIGINT/SIGTERM.
public final class Seeder: Service, Sendable {
    public struct Configuration: Sendable {
        public var indexes: [Endpoint]
        public var heartbeatInterval: Duration
        public var rescanInterval: Duration
        public var agent: String
        public var secret: NetworkSecret?
        /// TLS (with our identity) or plain, for the connections to the indexes.
        public var transport: TransportSecurity
        /// The peer id each index must present.
        public var trust: IndexTrust

        public init(indexes: [Endpoint], heartbeatInterval: Duration = .seconds(5),
                    rescanInterval: Duration = .seconds(10), agent: String = "sonic-seed",
                    secret: NetworkSecret? = nil, transport: TransportSecurity = .off, trust: IndexTrust = IndexTrust()) {
            self.secret = secret
            self.transport = transport
            self.trust = trust
            self.indexes = indexes
            self.heartbeatInterval = heartbeatInterval
            self.rescanInterval = rescanInterval
            self.agent = agent
        }
    }

    public let configuration: Configuration
    public let server: PeerServer
    /// Nil when the library is fixed (a single downloaded file).
    public let indexer: FolderIndexer?
    private let logger: Logger

    public init(configuration: Configuration, server: PeerServer, indexer: FolderIndexer?, logger: Logger) {
        self.configuration = configuration
        self.server = server
        self.indexer = indexer
        self.logger = logger
    }

    /// One rescan off the cooperative thread pool (hashing is blocking work).
    @discardableResult
    public func rescanNow() async throws -> FolderIndexer.Outcome? {
        guard let indexer else { return nil }
        return try await NIOThreadPool.singleton.runIfActive { indexer.rescan() }
    }

    /// Serves until graceful shutdown; throws ``IndexRefused`` (after stopping everything)
    /// if an index refuses this peer for good.
    public func run() async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                do {
                    try await self.server.serve()
                } catch {
                    self.logger.error("peer server stopped", metadata: ["error": "\(error)"])
                }
            }
            for index in configuration.indexes {
                let announcer = IndexAnnouncer(
                    index: index, library: server.library, listenPort: server.boundAddress.port,
                    heartbeatInterval: configuration.heartbeatInterval, transport: configuration.transport,
                    trust: configuration.trust, agent: configuration.agent, secret: configuration.secret,
                    partials: server.partials, logger: logger)
                group.addTask { try await announcer.run() }
            }
            if indexer != nil {
                group.addTask { await self.rescanLoop() }
            }
            // The first refusal ends the group, which cancels the server and the other tasks.
            for try await _ in group {}
        }
        let t = server.statistics.totals
        logger.info("seeder stopped", metadata: [
            "uploaded": "\(ByteCount(t.fileBytes))", "wire": "\(ByteCount(t.wireBytes))",
            "blocks": "\(t.blocks)", "deflated-blocks": "\(t.deflatedBlocks)",
        ].merging(blockCacheMetadata(), uniquingKeysWith: { a, _ in a }))
    }

    /// The block cache's hit rate, for the logs.
    private func blockCacheMetadata() -> Logger.Metadata {
        guard let cache = server.blockCache else { return [:] }
        let s = cache.statistics
        let lookups = s.hits + s.misses
        let rate = lookups == 0 ? "-" : formatFixed(Double(s.hits) / Double(lookups) * 100, decimals: 1) + "%"
        return ["block-cache-hits": "\(rate) of \(lookups)", "block-cache": "\(ByteCount(UInt64(s.bytes))) in \(s.entries) blocks"]
    }

    private func rescanLoop() async {
        var last = ContinuousClock.now
        var lookupsLogged: UInt64 = 0
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            try? await Task.sleep(for: .milliseconds(200))
            let due = ContinuousClock.now - last >= configuration.rescanInterval
            guard due || indexer?.takeRescanRequest() == true else { continue }
            last = .now
            if let s = server.blockCache?.statistics, s.hits + s.misses > lookupsLogged {
                lookupsLogged = s.hits + s.misses
                logger.info("uploads", metadata: blockCacheMetadata())
            }
            do {
                if let outcome = try await rescanNow(), outcome.hashed > 0 {
                    logger.info("rescan", metadata: ["files": "\(outcome.files)", "hashed": "\(outcome.hashed)"])
                }
            } catch {
                return
            }
        }
    }
}
