import CoreMetrics
import Hummingbird
import HTTPTypes
import Foundation
import Logging
import NIOPosix
import ServiceLifecycle
import SonicCore
import SonicNet
import SonicSeed
import SonicSwarm
import SonicWire
import Synchronization

/// Downloads requested through the API, run in this process on the swarm engine. Each lands
/// in the downloads folder as a hidden partial file (so the seeder never offers it half
/// written) and, once verified and renamed, is picked up by the next rescan and shared.
/// Unfinished downloads are kept in a hidden journal beside them and resume on restart.
public final class DownloadManager: Service, Sendable {
    public struct Configuration: Sendable {
        public var indexes: [Endpoint]
        public var secret: NetworkSecret?
        /// TLS with the peer's identity, or plain; and the peer id each index must present.
        public var transport: TransportSecurity = .off
        public var trust = IndexTrust()
        /// The shared folder's real path.
        public var root: String
        /// Where downloads land, as a shared-name prefix under `root` ("" for the root itself).
        public var subfolder: String
        /// This peer's own address, never asked for pieces.
        public var ownAddress: Endpoint
        /// Attempts at a download before it is marked failed (each asks the index for peers again).
        public var attempts = 4
        public var retryDelay: Duration = .seconds(2)
        public var settings = SwarmDownload.Settings()
        /// Where downloads in progress are offered to other peers (the peer's own server).
        public var serving: PartialHoldings?

        public init(indexes: [Endpoint], secret: NetworkSecret?, root: String, subfolder: String, ownAddress: Endpoint) {
            self.indexes = indexes
            self.secret = secret
            self.root = root
            self.subfolder = subfolder
            self.ownAddress = ownAddress
        }

        var folder: String { subfolder.isEmpty ? root : root + "/" + subfolder }
        var journalPath: String { folder + "/.sonic-downloads.json" }

        func indexClient() -> IndexClient {
            IndexClient(indexes: indexes, agent: "sonic-seed", secret: secret, features: [.swarm], transport: transport,
                        trust: trust)
        }
    }

    struct Entry: Sendable {
        var info: DownloadInfo
        var contentID: ContentID
        var task: Task<Void, Never>?
        /// Bytes verified when the current run started, and when: the rate's base.
        var rateBase: (bytes: UInt64, at: ContinuousClock.Instant)?
    }

    /// What the journal keeps of an unfinished download.
    struct JournalEntry: Codable, Equatable {
        var content_id: String
        var name: String
        var size: UInt64
        var paused: Bool
    }

    private let configuration: Configuration
    private let library: SharedLibrary
    private let indexer: FolderIndexer?
    private let events: EventHub
    private let metrics: WebMetrics?
    private let logger: Logger
    private let state = Mutex<[String: Entry]>([:])
    private let order = Mutex<[String]>([])
    /// Held while the journal is written, so two writers never share the temporary file.
    private let journalLock = Mutex(())

    public init(configuration: Configuration, library: SharedLibrary, indexer: FolderIndexer?, events: EventHub,
                metrics: WebMetrics?, logger: Logger) {
        self.configuration = configuration
        self.library = library
        self.indexer = indexer
        self.events = events
        self.metrics = metrics
        self.logger = logger
    }

    // MARK: Service

    /// Resumes the journal's unfinished downloads, then waits for shutdown and stops them all
    /// (each saves its resume record as it stops).
    public func run() async throws {
        for j in loadJournal() {
            guard let id = SHA256Hash(hex: j.content_id).map(ContentID.init) else { continue }
            let info = DownloadInfo(id: j.content_id, name: j.name, path: path(forName: j.name), size: j.size, sha256: nil,
                                    state: j.paused ? .paused : .queued, verified_bytes: 0, rate: 0, eta_seconds: nil,
                                    active_peers: 0, peers: [], error: nil)
            insert(Entry(info: info, contentID: id))
            if !j.paused { launch(j.content_id) }
        }
        try? await gracefulShutdown()
        let tasks = state.withLock { s in s.values.compactMap(\.task) }
        for t in tasks { t.cancel() }
        for t in tasks { await t.value }
    }

    // MARK: API

    var all: [DownloadInfo] {
        let ids = order.withLock { $0 }
        return state.withLock { s in ids.compactMap { s[$0]?.info } }
    }

    func info(_ id: String) -> DownloadInfo? { state.withLock { $0[id]?.info } }

    var activeCount: Int { state.withLock { $0.values.filter { $0.info.state == .running || $0.info.state == .queued }.count } }

    /// Starts (or returns the existing) download of a content, chosen by content id or by a
    /// name that names one content only.
    func start(_ request: DownloadRequest) async throws -> DownloadInfo {
        let result = try await resolve(request)
        let id = result.contentID.hex
        if let existing = info(id) {
            if existing.state == .paused || existing.state == .failed { return try resume(id) }
            return existing
        }
        let base = SharedName.baseName(result.name)
        guard SharedName.isSafe(base), !base.hasPrefix(".") else {
            throw APIError(.unprocessableContent, "bad_name", "the shared name \(result.name.debugDescription) cannot be saved here")
        }
        let target = configuration.folder + "/" + base
        var info = DownloadInfo(id: id, name: result.name, path: path(forName: result.name), size: result.size,
                                sha256: result.fileHash.hex, state: .queued, verified_bytes: 0, rate: 0, eta_seconds: nil,
                                active_peers: 0, peers: [], error: nil)
        if library.entry(for: result.contentID) != nil {
            info.state = .completed
            info.verified_bytes = result.size
            insert(Entry(info: info, contentID: result.contentID))
            publish(info)
            return info
        }
        if FileManager.default.fileExists(atPath: target) {
            throw APIError(.conflict, "name_taken", "a different file named \(base.debugDescription) is already in the folder")
        }
        insert(Entry(info: info, contentID: result.contentID))
        saveJournal()
        launch(id)
        return self.info(id) ?? info
    }

    func pause(_ id: String) async throws -> DownloadInfo {
        let task: Task<Void, Never>? = try state.withLock { s in
            guard var e = s[id] else { throw APIError.notFound("no download \(id)") }
            guard e.info.state == .running || e.info.state == .queued else {
                throw APIError(.conflict, "bad_state", "the download is \(e.info.state.rawValue)")
            }
            e.info.state = .paused
            e.info.rate = 0
            e.info.eta_seconds = nil
            e.info.active_peers = 0
            let t = e.task
            e.task = nil
            s[id] = e
            return t
        }
        task?.cancel()
        await task?.value
        saveJournal()
        let info = self.info(id)!
        publish(info)
        return info
    }

    func resume(_ id: String) throws -> DownloadInfo {
        try state.withLock { s in
            guard var e = s[id] else { throw APIError.notFound("no download \(id)") }
            guard e.info.state == .paused || e.info.state == .failed else {
                throw APIError(.conflict, "bad_state", "the download is \(e.info.state.rawValue)")
            }
            e.info.state = .queued
            e.info.error = nil
            s[id] = e
        }
        saveJournal()
        launch(id)
        return info(id)!
    }

    /// Stops a download and deletes its partial file and resume record (a completed file
    /// stays: it is shared now, and only leaves the list).
    func cancel(_ id: String) async throws {
        let entry = state.withLock { $0.removeValue(forKey: id) }
        guard let entry else { throw APIError.notFound("no download \(id)") }
        order.withLock { $0.removeAll { $0 == id } }
        entry.task?.cancel()
        await entry.task?.value
        if entry.info.state != .completed {
            let target = targetPath(entry.info.name)
            unlink(PartialFile.partialPath(for: target))
            ResumeRecord.remove(at: ResumeRecord.path(for: target))
        }
        saveJournal()
        events.publish(WebEvent(type: "download_removed", ["id": id]))
    }

    // MARK: Running one download

    private func launch(_ id: String) {
        let task = Task { await self.drive(id) }
        state.withLock { s in
            s[id]?.task = task
        }
    }

    private func drive(_ id: String) async {
        guard let entry = state.withLock({ $0[id] }) else { return }
        var attempt = 0
        while !Task.isCancelled {
            attempt += 1
            update(id) { $0.info.state = .running; $0.info.error = nil }
            do {
                try await runOnce(entry.contentID, name: entry.info.name, id: id)
                update(id) {
                    // The last pieces may have come after the last progress tick: the byte
                    // counter is brought up to the whole file here, not left short.
                    metricsRaw(delta: $0.info.size - min($0.info.verified_bytes, $0.info.size))
                    $0.info.state = .completed
                    $0.info.verified_bytes = $0.info.size
                    $0.info.rate = 0
                    $0.info.eta_seconds = 0
                    $0.info.active_peers = 0
                }
                saveJournal()
                indexer?.requestRescan()
                metrics?.downloadsCompleted.increment()
                return
            } catch is CancellationError {
                return
            } catch {
                if Task.isCancelled { return }
                let message = Self.describe(error)
                let final = attempt >= configuration.attempts || Self.isFinal(error)
                update(id) {
                    $0.info.error = message
                    $0.info.rate = 0
                    $0.info.active_peers = 0
                    if final { $0.info.state = .failed }
                }
                events.publish(WebEvent(type: "error", ["message": "\(entry.info.name): \(message)", "download": id]))
                if final { return }
                try? await Task.sleep(for: configuration.retryDelay)
            }
        }
    }

    private func runOnce(_ contentID: ContentID, name: String, id: String) async throws {
        let client = configuration.indexClient()
        let results = try await client.search(.exact, name, logger: logger)
        guard let result = results.first(where: { $0.contentID == contentID }) else {
            throw APIError.notFound("no peer shares it now")
        }
        let own = configuration.ownAddress
        let holders = SwarmDownload.Holders(result, excluding: { $0.mayBe(own) })
        guard !holders.complete.isEmpty else { throw APIError.notFound("no other peer shares it now") }
        let peers = holders.complete + holders.partial
        events.publish(WebEvent(type: "peers", ["download": id, "peers": peers.map(\.description).joined(separator: ",")]))
        let pins = PeerPins(result.peerPins)
        update(id) { $0.rateBase = nil }
        var settings = SwarmDownload.Settings(
            requestsPerPeer: configuration.settings.requestsPerPeer, peerTimeout: configuration.settings.peerTimeout,
            acceptDeflate: true, secret: configuration.secret, serving: configuration.serving)
        settings.transport = configuration.transport
        settings.pins = pins
        // Holders that appear during the download are connected too (the index asked again).
        if configuration.serving != nil { settings.uploadPort = own.port }
        let logger = self.logger
        settings.discover = {
            let results = try? await client.search(.exact, name, logger: logger)
            let found = results?.first { $0.contentID == contentID }
            if let found { pins.add(found.peerPins) }
            return SwarmDownload.Holders(found, excluding: { $0.mayBe(own) })
        }
        let lastWire = Mutex<UInt64>(0)
        do {
            let report = try await SwarmDownload.run(
                contentID: contentID, expectedSize: result.size, peers: peers, partialHolders: Set(holders.partial),
                targetPath: targetPath(name),
                settings: settings, logger: logger,
                progress: { [self] p in
                    let wireDelta = lastWire.withLock { last in
                        defer { last = p.wireBytes }
                        return p.wireBytes - min(last, p.wireBytes)
                    }
                    metrics?.downloaded(raw: 0, wire: wireDelta)
                    progressed(id, p)
                })
            finish(id, report)
        } catch let incomplete as SwarmDownload.Incomplete {
            finish(id, incomplete.report)
            throw incomplete
        } catch let forged as SwarmDownload.InconsistentContent {
            finish(id, forged.report)
            throw forged
        }
    }

    private func progressed(_ id: String, _ p: SwarmDownload.Progress) {
        let now = ContinuousClock.now
        let info: DownloadInfo? = update(id) { e in
            guard e.info.state == .running else { return }
            (e.info.sha256, e.info.size) = (p.fileHash.hex, p.totalBytes)
            let verified = p.verifiedBytes
            metricsRaw(delta: verified > e.info.verified_bytes ? verified - e.info.verified_bytes : 0)
            e.info.verified_bytes = verified
            e.info.active_peers = p.activePeers
            e.info.peers = Self.peerBytes(p.peers)
            if e.rateBase == nil { e.rateBase = (verified, now) }
            if let base = e.rateBase {
                let seconds = (now - base.at).seconds
                if seconds >= 0.5 {
                    e.info.rate = Double(verified - min(base.bytes, verified)) / seconds
                }
            }
            let left = Double(p.totalBytes - min(verified, p.totalBytes))
            e.info.eta_seconds = e.info.rate > 0 ? (left / e.info.rate).rounded() : nil
        }
        if let info { events.publish(WebEvent(type: "download", info)) }
    }

    private static func peerBytes(_ peers: [SwarmDownload.PeerReport]) -> [PeerBytes] {
        peers.map { PeerBytes(address: $0.endpoint.description, bytes: $0.fileBytes, banned: $0.banned) }
    }

    private func metricsRaw(delta: UInt64) {
        if delta > 0 { metrics?.downloaded(raw: delta, wire: 0) }
    }

    private func finish(_ id: String, _ report: SwarmDownload.Report) {
        update(id) { e in
            e.info.peers = Self.peerBytes(report.peers)
            (e.info.sha256, e.info.size) = (report.manifest.fileHash.hex, report.manifest.fileSize)
        }
        metrics?.recordSwarm(report)
    }

    // MARK: Helpers

    private func targetPath(_ name: String) -> String {
        configuration.folder + "/" + SharedName.baseName(name)
    }

    private func path(forName name: String) -> String {
        let base = SharedName.baseName(name)
        return configuration.subfolder.isEmpty ? base : configuration.subfolder + "/" + base
    }

    private func insert(_ entry: Entry) {
        state.withLock { $0[entry.info.id] = entry }
        order.withLock { o in if !o.contains(entry.info.id) { o.append(entry.info.id) } }
    }

    @discardableResult
    private func update(_ id: String, _ change: (inout Entry) -> Void) -> DownloadInfo? {
        let info: DownloadInfo? = state.withLock { s in
            guard var e = s[id] else { return nil }
            let before = e.info
            change(&e)
            s[id] = e
            return e.info.state != before.state || e.info.error != before.error ? e.info : nil
        }
        if let info { publish(info) }
        return state.withLock { $0[id]?.info }
    }

    private func publish(_ info: DownloadInfo) {
        events.publish(WebEvent(type: "download", info))
    }

    private func resolve(_ request: DownloadRequest) async throws -> SearchResult {
        let client = configuration.indexClient()
        if let hex = request.content_id {
            guard let id = SHA256Hash(hex: hex.lowercased()).map(ContentID.init) else { throw APIError.badRequest("content_id is not a content id") }
            let results = try await WebSearch.search(client, mode: request.name == nil ? .keyword : .exact,
                                                     query: request.name ?? "", logger: logger)
            guard let r = results.first(where: { $0.contentID == id }) else {
                throw APIError.notFound("no peer shares content \(hex)")
            }
            return r
        }
        guard let name = request.name, !name.isEmpty else { throw APIError.badRequest("give content_id or name") }
        let results = try await WebSearch.search(client, mode: .exact, query: name, logger: logger)
        switch ContentChoice.choose(from: results, name: name, hashPrefix: nil) {
        case .chosen(let r): return r
        case .notFound, .noMatchForHash: throw APIError.notFound("no peer shares \(name.debugDescription)")
        case .ambiguous(let c):
            throw APIError(.conflict, "ambiguous", "\(c.count) different contents are shared as \(name.debugDescription); pick one by content_id")
        }
    }

    static func isFinal(_ error: any Error) -> Bool {
        error is SwarmDownload.InconsistentContent || error is FileError || error is PartialFile.Busy
    }

    static func describe(_ error: any Error) -> String {
        switch error {
        case let e as APIError: e.message
        case let e as IndexUnavailable: "\(e)"
        default: "\(error)"
        }
    }

    // MARK: Journal

    private func loadJournal() -> [JournalEntry] {
        guard let data = FileManager.default.contents(atPath: configuration.journalPath) else { return [] }
        return (try? JSONDecoder().decode([JournalEntry].self, from: data)) ?? []
    }

    private func saveJournal() {
        // The snapshot is taken under the lock too: a newer journal is never overwritten by an older one.
        journalLock.withLock { _ in
            let entries: [JournalEntry] = all.filter { $0.state != .completed }.map {
                JournalEntry(content_id: $0.id, name: $0.name, size: $0.size, paused: $0.state == .paused)
            }
            let tmp = configuration.journalPath + ".tmp"
            do {
                try JSONEncoder().encode(entries).write(to: URL(fileURLWithPath: tmp))
                guard rename(tmp, configuration.journalPath) == 0 else { throw FileError(path: tmp, message: "cannot rename") }
            } catch {
                unlink(tmp)
                logger.warning("cannot save the downloads journal", metadata: ["error": "\(error)"])
            }
        }
    }
}

