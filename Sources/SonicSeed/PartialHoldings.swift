import SonicCore
import SonicWire
import Synchronization

/// A download in progress that this peer serves other peers from (the swarm feature): the
/// pieces verified so far, read from its partial file, and the connections to tell (HAVE)
/// when another piece verifies. Only verified pieces are ever served.
public final class PartialHolding: Sendable {
    public let manifest: Manifest
    public let contentID: ContentID
    /// The partial file the download writes (for logs and the reader cache's key).
    public let path: String
    /// Opens a reader of the partial file: from the download's own descriptor, never by path
    /// (a link swapped in at the path must not let peers read another file).
    private let openReader: @Sendable () throws -> ReadOnlyFile

    private struct State {
        var verified: PieceBitfield
        var subscribers: [UInt64: AsyncStream<Message>.Continuation] = [:]
        var nextSubscriber: UInt64 = 0
    }

    private let state: Mutex<State>

    public init(manifest: Manifest, path: String, verified: PieceBitfield? = nil,
                reader: @escaping @Sendable () throws -> ReadOnlyFile) {
        self.manifest = manifest
        self.contentID = manifest.contentID
        self.path = path
        self.openReader = reader
        self.state = Mutex(State(verified: verified ?? PieceBitfield(pieceCount: manifest.pieceCount)))
    }

    public func reader() throws -> ReadOnlyFile { try openReader() }

    /// The pieces held now.
    public var holdings: PieceBitfield { state.withLock { $0.verified } }

    /// `piece` verified: it may be served, and every subscribed connection is sent a HAVE.
    public func verified(_ piece: Int) {
        let subscribers = state.withLock { s -> [AsyncStream<Message>.Continuation] in
            guard s.verified.insert(piece) else { return [] }
            return Array(s.subscribers.values)
        }
        for subscriber in subscribers { subscriber.yield(.have(contentID, piece: UInt32(piece))) }
    }

    /// Whether every piece the byte range touches is verified.
    public func holds(offset: UInt64, length: UInt64) -> Bool {
        guard length > 0 else { return true }
        let first = Int(offset / UInt64(manifest.pieceSize))
        let last = Int((offset + length - 1) / UInt64(manifest.pieceSize))
        return state.withLock { s in (first...last).allSatisfy { s.verified.contains($0) } }
    }

    /// Subscribes a connection that was sent `sent` (its BITFIELD): pieces verified since are
    /// yielded at once as HAVE, later ones as they verify. Returns the id to unsubscribe with.
    public func subscribe(_ continuation: AsyncStream<Message>.Continuation, after sent: PieceBitfield) -> UInt64 {
        let (id, missed) = state.withLock { s in
            s.nextSubscriber &+= 1
            s.subscribers[s.nextSubscriber] = continuation
            return (s.nextSubscriber, s.verified.pieces.filter { !sent.contains($0) })
        }
        for piece in missed { continuation.yield(.have(contentID, piece: UInt32(piece))) }
        return id
    }

    public func unsubscribe(_ id: UInt64) {
        state.withLock { _ = $0.subscribers.removeValue(forKey: id) }
    }
}

/// The downloads in progress this peer serves from, by content id.
public final class PartialHoldings: Sendable {
    private struct State {
        var holdings: [ContentID: PartialHolding] = [:]
        /// Counts changes to the set, so announcers know when to tell the indexes.
        var generation = 0
    }

    private let state = Mutex(State())

    public init() {}

    public func add(_ holding: PartialHolding) {
        state.withLock {
            $0.holdings[holding.contentID] = holding
            $0.generation += 1
        }
    }

    /// The download ended (completed, and now shared whole, or abandoned).
    public func remove(_ contentID: ContentID) {
        state.withLock {
            if $0.holdings.removeValue(forKey: contentID) != nil { $0.generation += 1 }
        }
    }

    public func holding(for contentID: ContentID) -> PartialHolding? {
        state.withLock { $0.holdings[contentID] }
    }

    /// The current generation and the content ids held in part, sorted.
    public func snapshot() -> (generation: Int, contents: [ContentID]) {
        state.withLock { ($0.generation, $0.holdings.keys.sorted()) }
    }
}

/// One connection's HAVE subscriptions: the downloads in progress it asked the manifest of.
/// Without the swarm feature (`announce` nil) it never subscribes.
final class HaveSubscriptions: Sendable {
    private let announce: AsyncStream<Message>.Continuation?
    private let subscribed = Mutex<[(holding: PartialHolding, id: UInt64)]>([])

    init(announce: AsyncStream<Message>.Continuation?) {
        self.announce = announce
    }

    var speaksSwarm: Bool { announce != nil }

    /// HAVE for every piece of `holding` verified after `sent` (the BITFIELD just sent).
    func subscribe(to holding: PartialHolding, after sent: PieceBitfield) {
        guard let announce else { return }
        let alreadySubscribed = subscribed.withLock { $0.contains { $0.holding === holding } }
        guard !alreadySubscribed else { return }
        let id = holding.subscribe(announce, after: sent)
        subscribed.withLock { $0.append((holding, id)) }
    }

    func cancelAll() {
        let all = subscribed.withLock { s -> [(holding: PartialHolding, id: UInt64)] in
            let all = s
            s.removeAll()
            return all
        }
        for subscription in all { subscription.holding.unsubscribe(subscription.id) }
    }
}
