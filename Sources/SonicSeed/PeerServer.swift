import Logging
import NIOCore
import SonicCompression
import SonicCore
import SonicNet
import SonicWire
import Synchronization

/// Serves MANIFEST, OBTAIN and OBTAIN-RANGE to other peers from a ``SharedLibrary``, and,
/// to downloaders that speak the swarm feature, the verified pieces of downloads in progress
/// (``PartialHoldings``): BITFIELD after their MANIFEST, HAVE as pieces verify, and
/// `not held` for a range that covers a piece not verified yet.
///
/// Each connection reads requests on one task and answers them in order on another, so a
/// downloader can keep several requests in flight (pipelining) and CANCEL one while it is
/// being sent. Every request gets exactly one END or one ERROR carrying its id; a failed
/// request leaves the connection usable.
public final class PeerServer: Sendable {
    public struct Configuration: Sendable {
        /// Where to serve peers and how to protect connections.
        public var listener: ServerListener.Settings
        /// Requests one connection may have queued; more is a protocol violation.
        public var maximumQueuedRequests: Int
        public var blockEncoding: BlockEncodingPolicy
        /// Wire bytes per second for all uploads together (nil: unlimited).
        public var maximumUploadRate: Double?
        /// Bytes of deflated blocks kept for the next downloader (0: none).
        public var blockCacheBytes: Int
        /// Offer complete files to downloaders that trade pieces a few pieces at a time while
        /// several fetch the same content (``PieceOffers``); off: every piece to everyone.
        public var superSeeding = true
        /// Requests that stream at once (``UploadSlots``; nil: all of them), and the longest
        /// a request waits for a slot before it streams anyway.
        public var uploadSlots: Int? = 4
        public var maximumSlotWait: Duration = .seconds(1)

        /// Sending counts as activity: a long piece to a slow downloader is not idleness.
        public static let defaultListener = ServerListener.Settings(
            host: "127.0.0.1", port: 6020, idleTimeout: .seconds(30), idleCountsWrites: true,
            connections: .init(total: 512, perIP: 128))

        public init(listener: ServerListener.Settings = Configuration.defaultListener,
                    maximumQueuedRequests: Int = 256, blockEncoding: BlockEncodingPolicy = .init(),
                    maximumUploadRate: Double? = nil, blockCacheBytes: Int = 64 << 20) {
            self.blockCacheBytes = blockCacheBytes
            self.listener = listener
            self.maximumUploadRate = maximumUploadRate
            self.maximumQueuedRequests = maximumQueuedRequests
            self.blockEncoding = blockEncoding
        }
    }

    public let configuration: Configuration
    public let listener: ServerListener
    public let library: SharedLibrary
    public let partials: PartialHoldings
    public let statistics = UploadStatistics()
    /// Deflated blocks shared by every connection (nil when the cache is off).
    public let blockCache: DeflatedBlockCache?
    private let rateLimiter: RateLimiter?
    /// What complete files offer downloaders that trade pieces (``PieceOffers``).
    private let superSeeding = SuperSeeding()
    private let slots: UploadSlots?
    private let sessionCounter = Atomic<UInt64>(0)
    private let logger: Logger
    private let contentChanged: @Sendable (SharedEntry) -> Void

    public var boundAddress: Endpoint { listener.boundAddress }

    /// - Parameter contentChanged: called when a file is found to differ from its manifest
    ///   (the seeder rescans, so the index learns the new content).
    public static func bind(_ configuration: Configuration, library: SharedLibrary,
                            partials: PartialHoldings = PartialHoldings(), logger: Logger,
                            contentChanged: @escaping @Sendable (SharedEntry) -> Void = { _ in }) async throws -> PeerServer {
        let listener = try await ServerListener.bind(configuration.listener, logger: logger)
        return PeerServer(configuration: configuration, listener: listener, library: library, partials: partials,
                          logger: logger, contentChanged: contentChanged)
    }

    private init(configuration: Configuration, listener: ServerListener, library: SharedLibrary,
                 partials: PartialHoldings, logger: Logger, contentChanged: @escaping @Sendable (SharedEntry) -> Void) {
        self.configuration = configuration
        self.listener = listener
        self.library = library
        self.partials = partials
        self.logger = logger
        self.contentChanged = contentChanged
        self.rateLimiter = configuration.maximumUploadRate.map { RateLimiter(bytesPerSecond: $0) }
        self.slots = configuration.uploadSlots.map { UploadSlots(count: $0) }
        self.blockCache = configuration.blockCacheBytes > 0 ? DeflatedBlockCache(capacity: configuration.blockCacheBytes) : nil
    }

    public func serve() async throws {
        try await listener.serveUntilShutdown { connection in await self.handle(connection) }
    }

    private func handle(_ connection: FrameChannel) async {
        let id = sessionCounter.add(1, ordering: .relaxed).newValue
        var logger = self.logger
        logger[metadataKey: "downloader"] = "\(connection.remoteDescription)"
        logger.debug("peer connected")
        let features: Features = configuration.blockEncoding.mode == .never ? [.swarm] : [.deflate, .swarm]
        await ServerConversation.run(connection, sessionID: id, features: features,
                                     secret: configuration.listener.secret, logger: logger) { session, hello in
            let deflate = hello.features.contains(.deflate) && features.contains(.deflate)
            // A swarm downloader that serves too (its port in HELLO) trades pieces: it says
            // what it holds, so complete files may be offered to it a few pieces at a time.
            let swarm = hello.features.contains(.swarm)
            let trader = swarm && hello.listenPort > 0 && configuration.superSeeding ? id : nil
            try await converse(&session, deflate: deflate, swarm: swarm, trader: trader, logger: logger)
        }
        logger.debug("peer disconnected")
    }

    private enum Work: Sendable {
        case manifest(ContentID)
        case range(RangeRequest)
        case whole(requestID: UInt32, name: String)

        var requestID: UInt32? {
            switch self {
            case .manifest: nil
            case .range(let r): r.requestID
            case .whole(let id, _): id
            }
        }
    }

    private func converse(_ session: inout FrameSession, deflate: Bool, swarm: Bool, trader: UInt64?,
                          logger: Logger) async throws {
        let (queue, enqueue) = AsyncStream<Work>.makeStream()
        // HAVE of the downloads in progress this connection asked the manifest of, and the
        // pieces of complete files offered to a trader.
        let (haves, announce) = AsyncStream<Message>.makeStream()
        let subscriptions = HaveSubscriptions(announce: swarm ? announce : nil)
        let offers = trader.map { (connection: $0, send: announce) }
        defer {
            subscriptions.cancelAll()
            if let trader { superSeeding.leave(trader) }
        }
        let requests = RequestBook()
        let outbound = session.outbound
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                var sender = BlockSender(outbound: outbound, encoder: self.configuration.blockEncoding.makeEncoder(deflate: deflate),
                                         statistics: self.statistics, rateLimiter: self.rateLimiter, cache: self.blockCache)
                defer { sender.finish() }
                for await work in queue {
                    requests.dequeued()
                    try await self.perform(work, sender: &sender, requests: requests, subscriptions: subscriptions,
                                           offers: offers, logger: logger)
                    requests.finished(requestID: work.requestID)
                }
            }
            if swarm {
                group.addTask {
                    for await have in haves { try await outbound.write(have) }
                }
            }
            defer {
                enqueue.finish()
                announce.finish()
            }
            reading: while true {
                let message = try await session.receive()
                let work: Work
                switch message {
                case .manifestRequest(let id): work = .manifest(id)
                case .obtainRange(let r):
                    logger.trace("range requested", metadata: ["offset": "\(r.offset)", "length": "\(r.length)"])
                    if let trader, let entry = library.entry(for: r.contentID) {
                        superSeeding.requested(trader, content: r.contentID, offset: r.offset, length: r.length,
                                               pieceSize: entry.manifest.pieceSize)
                    }
                    work = .range(r)
                case .bitfield(let id, let holdings) where swarm:
                    // What a trading downloader holds; used only for offers.
                    if let trader { superSeeding.holds(trader, content: id, pieces: holdings.pieces) }
                    continue reading
                case .have(let id, let piece) where swarm:
                    if let trader { superSeeding.holds(trader, content: id, pieces: [Int(piece)]) }
                    continue reading
                case .obtain(let requestID, let name): work = .whole(requestID: requestID, name: name)
                case .cancel(let requestID):
                    requests.cancel(requestID)
                    continue reading
                case .exit:
                    break reading
                default:
                    throw ErrorMessage(.unexpectedMessage, "\(message.kind) is not a peer command")
                }
                guard requests.enqueued(requestID: work.requestID) <= configuration.maximumQueuedRequests else {
                    throw ErrorMessage(.limitExceeded, "more than \(configuration.maximumQueuedRequests) requests in flight")
                }
                enqueue.yield(work)
            }
            enqueue.finish()
            announce.finish()
            try await group.waitForAll()
        }
    }

    private func perform(_ work: Work, sender: inout BlockSender, requests: RequestBook,
                         subscriptions: HaveSubscriptions, offers: (connection: UInt64, send: AsyncStream<Message>.Continuation)?,
                         logger: Logger) async throws {
        switch work {
        case .manifest(let id):
            if let entry = library.entry(for: id) {
                try await sender.outbound.write(.manifest(id, entry.manifest.canonicalEncoding))
                if let offers {
                    // A trader: the pieces offered to it now, more as it takes them.
                    let offered = superSeeding.join(offers.connection, manifest: entry.manifest, send: offers.send)
                    try await sender.outbound.write(.bitfield(id, offered))
                } else if subscriptions.speaksSwarm {
                    // A complete holder: every piece.
                    let all = PieceBitfield(pieceCount: entry.manifest.pieceCount, pieces: 0..<entry.manifest.pieceCount)
                    try await sender.outbound.write(.bitfield(id, all))
                }
            } else if subscriptions.speaksSwarm, let holding = partials.holding(for: id) {
                // Only to a downloader that understands partial holders.
                try await sender.outbound.write(.manifest(id, holding.manifest.canonicalEncoding))
                let sent = holding.holdings
                try await sender.outbound.write(.bitfield(id, sent))
                subscriptions.subscribe(to: holding, after: sent)
            } else {
                try await sender.outbound.write(.error(ErrorMessage(.notFound, "no content \(id.shortHex) here")))
            }
        case .range(let r) where library.entry(for: r.contentID) == nil && subscriptions.speaksSwarm:
            guard let holding = partials.holding(for: r.contentID) else {
                try await sender.outbound.write(.error(Self.notFound(r)))
                return
            }
            if let refusal = Self.outOfBounds(r, size: holding.manifest.fileSize) {
                try await sender.outbound.write(.error(refusal))
                return
            }
            guard holding.holds(offset: r.offset, length: r.length) else {
                try await sender.outbound.write(.error(ErrorMessage(
                    .notHeld, requestID: r.requestID, "range \(r.offset)+\(r.length) covers a piece not verified here yet")))
                return
            }
            let file = try sender.open(holding)
            let outbound = sender.outbound
            try await stream(from: file, requestID: r.requestID, offset: r.offset, length: r.length, sender: &sender,
                             requests: requests) {
                try await outbound.write(.error(ErrorMessage(.internalError, requestID: r.requestID,
                                                                    "the partial file is shorter than its verified pieces")))
            }
        case .range(let r):
            guard let entry = library.entry(for: r.contentID) else {
                try await sender.outbound.write(.error(Self.notFound(r)))
                return
            }
            if let refusal = Self.outOfBounds(r, size: entry.manifest.fileSize) {
                try await sender.outbound.write(.error(refusal))
                return
            }
            try await stream(entry, requestID: r.requestID, offset: r.offset, length: r.length,
                             sender: &sender, requests: requests, logger: logger)
        case .whole(let requestID, let name):
            guard SharedName.isSafe(name), let entry = library.entry(named: name) else {
                try await sender.outbound.write(.error(ErrorMessage(.notFound, requestID: requestID,
                                                                    "no file named \(name.debugDescription) here")))
                return
            }
            try await stream(entry, requestID: requestID, offset: 0, length: entry.manifest.fileSize,
                             sender: &sender, requests: requests, logger: logger)
        }
    }

    private func stream(_ entry: SharedEntry, requestID: UInt32, offset: UInt64, length: UInt64,
                        sender: inout BlockSender, requests: RequestBook, logger: Logger) async throws {
        let file: ReadOnlyFile
        do {
            file = try sender.open(entry)
        } catch {
            logger.warning("cannot serve file", metadata: ["name": "\(entry.name)", "error": "\(error)"])
            contentChanged(entry)
            try await sender.outbound.write(.error(ErrorMessage(.contentChanged, requestID: requestID,
                                                                "\(entry.name) is no longer readable")))
            return
        }
        let outbound = sender.outbound
        try await stream(from: file, requestID: requestID, offset: offset, length: length, sender: &sender,
                         requests: requests) {
            logger.notice("file changed on disk since it was hashed", metadata: ["name": "\(entry.name)"])
            contentChanged(entry)
            try await outbound.write(.error(ErrorMessage(.contentChanged, requestID: requestID,
                                                                "\(entry.name) changed on disk")))
        }
    }

    private static func notFound(_ r: RangeRequest) -> ErrorMessage {
        ErrorMessage(.notFound, requestID: r.requestID, "no content \(r.contentID.shortHex) here")
    }

    /// The answer to a range outside a file of `size` bytes; nil if it fits.
    private static func outOfBounds(_ r: RangeRequest, size: UInt64) -> ErrorMessage? {
        guard r.offset > size || r.length > size - r.offset else { return nil }
        return ErrorMessage(.rangeOutOfBounds, requestID: r.requestID,
                            "range \(r.offset)+\(r.length) is outside the file (\(size) bytes)")
    }

    /// Sends the range block by block, stopping early if it is cancelled, then END; if the
    /// file turns out shorter, `shorter` answers instead of END.
    private func stream(from file: ReadOnlyFile, requestID: UInt32, offset: UInt64, length: UInt64,
                        sender: inout BlockSender, requests: RequestBook,
                        shorter: () async throws -> Void) async throws {
        let holdsSlot = await slots?.acquire(within: configuration.maximumSlotWait) ?? false
        defer { if holdsSlot { slots?.release() } }
        var position = offset
        let end = offset + length
        while position < end {
            if requests.isCancelled(requestID) { break }
            let count = Int(min(UInt64(WireLimits.maximumBlockLength), end - position))
            guard try await sender.sendBlock(from: file, at: position, count: count, requestID: requestID) else {
                try await shorter()
                return
            }
            position += UInt64(count)
        }
        try await sender.outbound.write(.end(requestID: requestID))
    }
}

/// The requests of one connection shared between its reading and its sending task: how many
/// are queued, which are still live (queued or being sent), and which of those the downloader
/// cancelled. A CANCEL of a request that is not live (ended, or never sent) is ignored, as
/// docs/PROTOCOL.md says, so nothing accumulates and a later request may reuse the id.
final class RequestBook: Sendable {
    private struct State {
        var queued = 0
        /// Live requests by id (a count: a confused client may reuse an id before it ends).
        var live: [UInt32: Int] = [:]
        var cancelled: Set<UInt32> = []
    }

    private let state = Mutex(State())

    /// A request was read; returns the queue length after adding it.
    func enqueued(requestID: UInt32?) -> Int {
        state.withLock { s in
            s.queued += 1
            if let requestID { s.live[requestID, default: 0] += 1 }
            return s.queued
        }
    }

    /// The sending task took a request off the queue.
    func dequeued() { state.withLock { $0.queued -= 1 } }

    /// The request's END or ERROR was sent: it is no longer live.
    func finished(requestID: UInt32?) {
        guard let requestID else { return }
        state.withLock { s in
            guard let count = s.live[requestID] else { return }
            if count > 1 {
                s.live[requestID] = count - 1
            } else {
                s.live[requestID] = nil
                s.cancelled.remove(requestID)
            }
        }
    }

    /// Records the cancellation of a live request; ignores any other id.
    func cancel(_ requestID: UInt32) {
        state.withLock { s in
            if s.live[requestID] != nil { s.cancelled.insert(requestID) }
        }
    }

    /// True if the downloader cancelled `requestID`.
    func isCancelled(_ requestID: UInt32) -> Bool { state.withLock { $0.cancelled.contains(requestID) } }

    /// Cancellations remembered now (at most the live requests).
    var pendingCancellations: Int { state.withLock { $0.cancelled.count } }
}

/// Byte counters of everything a seeder uploaded, reported in its log on exit.
public final class UploadStatistics: Sendable {
    private let fileBytes = Atomic<UInt64>(0)
    private let wireBytes = Atomic<UInt64>(0)
    private let blocks = Atomic<UInt64>(0)
    private let deflatedBlocks = Atomic<UInt64>(0)
    private let byContent = Mutex<[ContentID: UInt64]>([:])

    public init() {}

    func record(fileBytes f: Int, wireBytes w: Int, deflated: Bool, content: ContentID? = nil) {
        if let content { byContent.withLock { $0[content, default: 0] += UInt64(f) } }
        fileBytes.add(UInt64(f), ordering: .relaxed)
        wireBytes.add(UInt64(w), ordering: .relaxed)
        blocks.add(1, ordering: .relaxed)
        if deflated { deflatedBlocks.add(1, ordering: .relaxed) }
    }

    /// File bytes served of one content since the start (the web app's shared-files list).
    public func servedBytes(of content: ContentID) -> UInt64 {
        byContent.withLock { $0[content] ?? 0 }
    }

    public var totals: (fileBytes: UInt64, wireBytes: UInt64, blocks: UInt64, deflatedBlocks: UInt64) {
        (fileBytes.load(ordering: .relaxed), wireBytes.load(ordering: .relaxed),
         blocks.load(ordering: .relaxed), deflatedBlocks.load(ordering: .relaxed))
    }
}
