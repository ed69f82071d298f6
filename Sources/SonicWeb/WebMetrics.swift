import CoreMetrics
import Metrics
import Prometheus
import SonicSeed
import SonicSwarm
import Synchronization

/// The peer's counters, kept with swift-metrics and written by swift-prometheus's registry in
/// Prometheus text format at `/metrics`. Each server process has its own registry (no global
/// bootstrap), so tests and the two programs never share state.
public final class WebMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry
    let factory: PrometheusMetricsFactory

    let bytesUpRaw, bytesUpWire, bytesDownRaw, bytesDownWire: CoreMetrics.Counter
    let piecesVerified, piecesFailed, peersBanned, downloadsCompleted: CoreMetrics.Counter
    let downloadsActive: CoreMetrics.Gauge
    let requestsServed: CoreMetrics.Counter

    /// Upload totals last seen, so each scrape adds only what is new.
    private let lastUpload = Mutex<(raw: UInt64, wire: UInt64)>((0, 0))

    public init() {
        let registry = PrometheusCollectorRegistry()
        self.registry = registry
        let factory = PrometheusMetricsFactory(registry: registry)
        self.factory = factory
        func counter(_ name: String, _ dims: [(String, String)] = []) -> CoreMetrics.Counter {
            CoreMetrics.Counter(label: name, dimensions: dims, factory: factory)
        }
        bytesUpRaw = counter("sonic_bytes_up_total", [("kind", "raw")])
        bytesUpWire = counter("sonic_bytes_up_total", [("kind", "wire")])
        bytesDownRaw = counter("sonic_bytes_down_total", [("kind", "raw")])
        bytesDownWire = counter("sonic_bytes_down_total", [("kind", "wire")])
        piecesVerified = counter("sonic_pieces_verified_total")
        piecesFailed = counter("sonic_pieces_failed_total")
        peersBanned = counter("sonic_peers_banned_total")
        downloadsCompleted = counter("sonic_downloads_completed_total")
        downloadsActive = CoreMetrics.Gauge(label: "sonic_downloads_active", dimensions: [], factory: factory)
        requestsServed = counter("sonic_http_requests_total")
    }

    func downloaded(raw: UInt64, wire: UInt64) {
        if raw > 0 { bytesDownRaw.increment(by: Int64(clamping: raw)) }
        if wire > 0 { bytesDownWire.increment(by: Int64(clamping: wire)) }
    }

    func recordSwarm(_ report: SwarmDownload.Report) {
        let verified = report.peers.reduce(0) { $0 + $1.pieces }
        let failed = report.peers.reduce(0) { $0 + $1.failures }
        let banned = report.peers.filter(\.banned).count
        if verified > 0 { piecesVerified.increment(by: Int64(verified)) }
        if failed > 0 { piecesFailed.increment(by: Int64(failed)) }
        if banned > 0 { peersBanned.increment(by: Int64(banned)) }
    }

    /// Brings the upload counters up to `statistics` (the peer server counts on its own).
    func syncUploads(_ statistics: UploadStatistics) {
        let t = statistics.totals
        let (raw, wire) = lastUpload.withLock { last in
            defer { last = (t.fileBytes, t.wireBytes) }
            return (t.fileBytes - min(last.raw, t.fileBytes), t.wireBytes - min(last.wire, t.wireBytes))
        }
        if raw > 0 { bytesUpRaw.increment(by: Int64(clamping: raw)) }
        if wire > 0 { bytesUpWire.increment(by: Int64(clamping: wire)) }
    }

    public func text() -> String { registry.emitToString() }
}
