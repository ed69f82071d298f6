import CoreMetrics
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import SonicCore
import SonicNet
import SonicSeed
import SonicWire

/// The peer's web app: the JSON API, the event stream, the page and `/metrics`, served
/// next to the peer server, as one service that stops with the rest on SIGINT/SIGTERM.
public final class PeerWebApp: Service, Sendable {
    public struct Peer: Sendable {
        public var server: PeerServer
        public var indexer: FolderIndexer
        public var indexes: [Endpoint]
        public var secret: NetworkSecret?
        /// TLS with the peer's identity, or plain; and the peer id each index must present.
        public var transport: TransportSecurity
        public var trust: IndexTrust
        /// The downloads subfolder, as a shared-name prefix ("" for the folder itself).
        public var downloads: String
        public var version: String

        public init(server: PeerServer, indexer: FolderIndexer, indexes: [Endpoint], secret: NetworkSecret?,
                    transport: TransportSecurity = .off, trust: IndexTrust = IndexTrust(),
                    downloads: String, version: String) {
            self.transport = transport
            self.trust = trust
            self.server = server
            self.indexer = indexer
            self.indexes = indexes
            self.secret = secret
            self.downloads = downloads
            self.version = version
        }
    }

    let configuration: WebConfiguration
    let peer: Peer
    let events = EventHub()
    let metrics = WebMetrics()
    let downloads: DownloadManager
    let probe: IndexProbe
    let rules: SafetyRules
    private let uploadRate = RateMeter()
    private let downloadRate = RateMeter()
    let logger: Logger
    private let onRunning: @Sendable (Endpoint) -> Void
    private let httpAddress = SafetyBox<Endpoint?>(nil)

    /// `onRunning` is called with the bound address (print `http on ...` there).
    public init(configuration: WebConfiguration, peer: Peer, logger: Logger, onRunning: @escaping @Sendable (Endpoint) -> Void)
        throws {
        try configuration.validate()
        self.configuration = configuration
        self.peer = peer
        self.logger = logger
        self.onRunning = onRunning
        let root = peer.indexer.scanner.realRoot
        if !peer.downloads.isEmpty {
            if let problem = FolderUpload.problem(with: peer.downloads) {
                throw WebConfigurationError(message: "--downloads \(peer.downloads): \(problem)")
            }
            try FileManager.default.createDirectory(atPath: root + "/" + peer.downloads, withIntermediateDirectories: true)
        }
        var downloadConfiguration = DownloadManager.Configuration(
            indexes: peer.indexes, secret: peer.secret, root: root, subfolder: peer.downloads,
            ownAddress: peer.server.boundAddress)
        downloadConfiguration.transport = peer.transport
        downloadConfiguration.trust = peer.trust
        downloadConfiguration.serving = peer.server.partials
        downloads = DownloadManager(
            configuration: downloadConfiguration,
            library: peer.server.library, indexer: peer.indexer, events: events, metrics: metrics, logger: logger)
        probe = IndexProbe(indexes: peer.indexes, secret: peer.secret, transport: peer.transport, trust: peer.trust)
        rules = SafetyRules(RequestSafety(allowedHosts: RequestSafety.hosts(for: configuration.binding.host),
                                          port: configuration.binding.port == 0 ? nil : configuration.binding.port,
                                          token: configuration.token))
    }

    public func run() async throws {
        let app = WebServer.application(router: makeRouter(), configuration: configuration, logger: logger) { [self] address in
            rules.bound(port: address.port)
            httpAddress.set(address)
            onRunning(address)
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await app.run() }
            group.addTask { try await self.downloads.run() }
            group.addTask { await self.watchLoop() }
            // Open event streams end at shutdown, or the server would wait for them.
            group.addTask {
                try? await gracefulShutdown()
                self.events.close()
            }
            try await group.waitForAll()
        }
    }

    /// Turns changes of the shared files and the rates into events, twice a second.
    private func watchLoop() async {
        var generation = -1
        var known: [String: SharedFileInfo] = [:]
        var ticks = 0
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            let library = peer.server.library
            if library.generation != generation {
                generation = library.generation
                let now = Dictionary(files().map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
                if !known.isEmpty || generation > 0 {
                    for (name, file) in now where known[name] == nil { events.publish(WebEvent(type: "file_added", file)) }
                    for (name, file) in known where now[name] == nil { events.publish(WebEvent(type: "file_removed", file)) }
                }
                known = now
            }
            ticks += 1
            let rates = sampleRates()
            metrics.downloadsActive.record(downloads.activeCount)
            if ticks % 2 == 0 {
                events.publish(WebEvent(type: "rates", ["upload_rate": rates.up, "download_rate": rates.down]))
            }
            try? await Task.sleep(for: .milliseconds(500))
        }
    }

    private func sampleRates() -> (up: Double, down: Double) {
        let up = uploadRate.sample(peer.server.statistics.totals.fileBytes)
        let down = downloadRate.sample(downloads.all.reduce(0) { $0 + $1.verified_bytes })
        return (up, down)
    }

    func files() -> [SharedFileInfo] {
        peer.server.library.entries.map {
            SharedFileInfo(name: $0.name, size: $0.manifest.fileSize, sha256: $0.manifest.fileHash.hex,
                           content_id: $0.contentID.hex, bytes_served: peer.server.statistics.servedBytes(of: $0.contentID))
        }
    }

    func status() async -> PeerStatus {
        let entries = peer.server.library.entries
        let rates = sampleRates()
        let all = downloads.all
        return PeerStatus(
            address: peer.server.boundAddress.description,
            peer_id: peer.transport.localPeerID?.description,
            http: httpAddress.value.map { "http://\($0)/" } ?? "",
            folder_name: URL(fileURLWithPath: peer.indexer.scanner.realRoot).lastPathComponent,
            version: peer.version,
            indexes: await probe.states(logger: logger),
            shared_files: entries.count,
            shared_bytes: entries.reduce(0) { $0 + $1.manifest.fileSize },
            downloads_active: downloads.activeCount,
            downloads_total: all.count,
            upload_rate: rates.up, download_rate: rates.down,
            uploaded_bytes: peer.server.statistics.totals.fileBytes,
            downloaded_bytes: all.reduce(0) { $0 + $1.verified_bytes })
    }
}

/// A value set once the server runs, read by handlers.
final class SafetyBox<Value: Sendable>: Sendable {
    private let storage: Mutex<Value>
    init(_ value: Value) { storage = Mutex(value) }
    var value: Value { storage.withLock { $0 } }
    func set(_ value: Value) { storage.withLock { $0 = value } }
}

import Synchronization
