import CoreMetrics
import HTTPTypes
import Hummingbird
import Logging
import Metrics
import ServiceLifecycle
import SonicCore

/// `sonic-index --http`: `/metrics` and a read-only JSON status. It reads the index through
/// closures, so this module does not depend on the index's internals.
public final class IndexWebApp: Service, Sendable {
    public struct Source: Sendable {
        public var address: Endpoint
        /// The index's peer id (nil with `--tls off`).
        public var peerID: PeerID?
        /// Peers online and files registered now.
        public var counts: @Sendable () -> (peers: Int, files: Int)
        /// Searches answered since the start.
        public var searches: @Sendable () -> UInt64

        public init(address: Endpoint, peerID: PeerID? = nil, counts: @escaping @Sendable () -> (peers: Int, files: Int),
                    searches: @escaping @Sendable () -> UInt64) {
            self.address = address
            self.peerID = peerID
            self.counts = counts
            self.searches = searches
        }
    }

    private let configuration: WebConfiguration
    private let source: Source
    private let logger: Logger
    private let onRunning: @Sendable (Endpoint) -> Void
    private let metrics = WebMetrics()
    private let searchRate = RateMeter(window: .seconds(10))
    private let rules: SafetyRules
    private let peersOnline: CoreMetrics.Gauge
    private let filesRegistered: CoreMetrics.Gauge
    private let searchesTotal: CoreMetrics.Counter
    private let searchesCounted = SafetyBox<UInt64>(0)

    public init(configuration: WebConfiguration, source: Source, logger: Logger, onRunning: @escaping @Sendable (Endpoint) -> Void)
        throws {
        try configuration.validate()
        self.configuration = configuration
        self.source = source
        self.logger = logger
        self.onRunning = onRunning
        rules = SafetyRules(RequestSafety(allowedHosts: RequestSafety.hosts(for: configuration.binding.host),
                                          port: configuration.binding.port == 0 ? nil : configuration.binding.port,
                                          token: configuration.token))
        let factory = metrics.factory
        peersOnline = CoreMetrics.Gauge(label: "sonic_index_peers_online", dimensions: [], factory: factory)
        filesRegistered = CoreMetrics.Gauge(label: "sonic_index_files", dimensions: [], factory: factory)
        searchesTotal = CoreMetrics.Counter(label: "sonic_index_searches_total", dimensions: [], factory: factory)
    }

    /// Brings the gauges and the search counter up to date (before a scrape or a status).
    private func sample() -> IndexWebStatus {
        let (peers, files) = source.counts()
        let searches = source.searches()
        peersOnline.record(peers)
        filesRegistered.record(files)
        let last = searchesCounted.value
        if searches > last { searchesTotal.increment(by: Int64(clamping: searches - last)) }
        searchesCounted.set(searches)
        return IndexWebStatus(address: source.address.description, peer_id: source.peerID?.description, peers_online: peers, files: files, searches_total: searches,
                              searches_per_second: searchRate.sample(searches))
    }

    public func run() async throws {
        let router = Router(context: WebContext.self)
        router.add(middleware: SafetyMiddleware(rules: rules, metrics: metrics, loginPage: {
            APIError.response(status: .unauthorized, code: "unauthorized", message: "a valid token is required")
        }))
        router.add(middleware: ErrorShapeMiddleware<WebContext>())
        router.get("/") { _, _ in try WebServer.json(self.sample()) }
        router.get("/api/v1/status") { _, _ in try WebServer.json(self.sample()) }
        WebServer.addCommonRoutes(to: router, configuration: configuration, metrics: metrics, beforeScrape: { _ = self.sample() })
        let app = WebServer.application(router: router, configuration: configuration, logger: logger) { [self] address in
            rules.bound(port: address.port)
            onRunning(address)
        }
        // Samples the search counter every second so the rate covers recent seconds.
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await app.run() }
            group.addTask {
                while !Task.isCancelled && !Task.isShuttingDownGracefully {
                    _ = self.sample()
                    try? await Task.sleep(for: .seconds(1))
                }
            }
            try await group.waitForAll()
        }
    }
}
