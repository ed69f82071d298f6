import SonicCore
import Synchronization

/// The I/O side of ``SwarmPolicy``: holds it behind one lock, reports each connection's
/// events to it with the time, and carries out the actions it returns. Calls are short and
/// synchronous; no I/O happens under the lock.
///
/// Each connection has a wake stream: ``SwarmPolicy/Action/send(to:)`` wakes that
/// connection's sender, which takes its commands (``takeCommands(for:)``) and writes them.
/// So a piece verified on one connection cancels the duplicate on another at once, and an
/// idle connection gets work the moment some frees up, without polling.
final class SwarmEngine: Sendable {
    typealias PeerID = SwarmPolicy.PeerID

    /// The policy closed the calling connection (banned, or a protocol violation); it was
    /// recorded there, the connection only has to end.
    struct Closed: Error, CustomStringConvertible {
        var reason: String
        var description: String { reason }
    }

    /// What the calling connection does after an event.
    enum Next: Sendable, Equatable {
        case carryOn
        /// The download is complete: the connection ends.
        case finished
    }

    let manifest: Manifest
    private let policy: Mutex<SwarmPolicy>
    private let wakes: Mutex<[AsyncStream<Void>.Continuation]>
    private let wakeStreams: Mutex<[AsyncStream<Void>?]>
    /// One element per ``SwarmPolicy/Action/checkpoint`` (at most one pending): the download
    /// flushes the file and saves the resume record for each.
    let checkpointsDue: AsyncStream<Void>
    private let checkpointDue: AsyncStream<Void>.Continuation
    /// One element when the policy says ``SwarmPolicy/Action/finished``: the download ends
    /// then, not once the connection that stored the last piece has closed.
    let completion: AsyncStream<Void>
    private let completed: AsyncStream<Void>.Continuation

    init(manifest: Manifest, peers: [Endpoint], alreadyVerified: [Int], settings: SwarmPolicy.Settings) {
        self.manifest = manifest
        self.policy = Mutex(SwarmPolicy(manifest: manifest, peers: peers, alreadyVerified: alreadyVerified,
                                        settings: settings))
        let pairs = peers.map { _ in Self.makeWakeStream() }
        self.wakes = Mutex(pairs.map(\.continuation))
        self.wakeStreams = Mutex(pairs.map(\.stream))
        (checkpointsDue, checkpointDue) = Self.makeWakeStream()
        (completion, completed) = Self.makeWakeStream()
    }

    /// One pending wake is enough: the sender takes every command there is when it wakes.
    private static func makeWakeStream() -> (stream: AsyncStream<Void>, continuation: AsyncStream<Void>.Continuation) {
        AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
    }

    /// Holders learnt of during the download: the new peers to connect to.
    func peersDiscovered(_ endpoints: [Endpoint]) -> [(peer: PeerID, endpoint: Endpoint)] {
        // Under the policy's lock, so that peer ids and wake streams line up.
        policy.withLock { policy in
            let joined = policy.peersDiscovered(endpoints)
            for _ in joined {
                let pair = Self.makeWakeStream()
                wakes.withLock { $0.append(pair.continuation) }
                wakeStreams.withLock { $0.append(pair.stream) }
            }
            return joined
        }
    }

    /// The wake stream of `peer`'s sender (one connection per peer: taken once).
    func wakeStream(for peer: PeerID) -> AsyncStream<Void> {
        wakeStreams.withLock { streams in
            defer { streams[peer] = nil }
            return streams[peer] ?? AsyncStream { $0.finish() }
        }
    }

    // MARK: Events

    func connected(_ peer: PeerID) throws -> Next {
        try carryOut(policy.withLock { $0.connected(peer, now: .now) }, for: peer)
    }

    func connectionEnded(_ peer: PeerID, reason: String?) {
        _ = try? carryOut(policy.withLock { $0.connectionEnded(peer, reason: reason, now: .now) }, for: nil)
        wakes.withLock { $0[peer] }.finish()
    }

    func holdingsArrived(from peer: PeerID, _ holdings: PieceBitfield) throws {
        _ = try carryOut(policy.withLock { $0.holdingsArrived(from: peer, holdings, now: .now) }, for: peer)
    }

    func haveArrived(from peer: PeerID, piece: Int) throws {
        _ = try carryOut(policy.withLock { $0.haveArrived(from: peer, piece: piece, now: .now) }, for: peer)
    }

    func takeCommands(for peer: PeerID) -> [PeerSession.Command]? {
        policy.withLock { $0.sessions[peer].state == .closed ? nil : $0.takeCommands(for: peer) }
    }

    func blockArrived(from peer: PeerID, requestID: UInt32, rawLength: Int, wireLength: Int) throws -> SwarmPolicy.BlockVerdict {
        let (verdict, actions) = policy.withLock {
            $0.blockArrived(from: peer, requestID: requestID, rawLength: rawLength, wireLength: wireLength, now: .now)
        }
        _ = try carryOut(actions, for: peer)
        return verdict
    }

    func blockRejected(from peer: PeerID, requestID: UInt32, corrupt reason: String?) throws {
        _ = try carryOut(policy.withLock { $0.blockRejected(from: peer, requestID: requestID, corrupt: reason, now: .now) },
                         for: peer)
    }

    func requestEnded(from peer: PeerID, requestID: UInt32, digest: SHA256Hash?) throws -> SwarmPolicy.EndVerdict {
        let (verdict, actions) = policy.withLock {
            $0.requestEnded(from: peer, requestID: requestID, digest: digest, now: .now)
        }
        _ = try carryOut(actions, for: peer)
        return verdict
    }

    func pieceStored(_ piece: Int, by peer: PeerID, won: Bool) throws -> Next {
        try carryOut(policy.withLock { $0.pieceStored(piece, by: peer, won: won, now: .now) }, for: peer)
    }

    func requestRefused(by peer: PeerID, requestID: UInt32, reason: String) throws {
        _ = try carryOut(policy.withLock { $0.requestRefused(by: peer, requestID: requestID, reason: reason, now: .now) },
                         for: peer)
    }

    /// Time passed.
    func tick() {
        _ = try? carryOut(policy.withLock { $0.tick(now: .now) }, for: nil)
    }

    /// Wakes the connections the actions name; for the calling connection (`caller`),
    /// throws ``Closed`` if it is to end, or says whether the download is complete.
    private func carryOut(_ actions: [SwarmPolicy.Action], for caller: PeerID?) throws -> Next {
        var next = Next.carryOn
        var closed: Closed?
        for action in actions {
            switch action {
            case .send(let peer):
                wakes.withLock { $0[peer] }.yield()
            case .close(let peer, let reason):
                // The sender ends when it finds its session closed.
                wakes.withLock { $0[peer] }.yield()
                if peer == caller { closed = Closed(reason: reason) }
            case .checkpoint:
                checkpointDue.yield()
            case .finished:
                completed.yield()
                completed.finish()
                next = .finished
            }
        }
        if let closed { throw closed }
        return next
    }

    // MARK: Status

    var isComplete: Bool { policy.withLock { $0.isComplete } }

    struct Snapshot: Sendable {
        var verifiedBytes: UInt64
        var receivingBytes: UInt64
        var verifiedPieces: Int
        var missingPieces: [Int]
        /// Verified pieces, for the resume record (empty unless asked for).
        var verified: PieceBitfield
        var peers: [SwarmPolicy.PeerRecord]
        var retriedPieces: Int
    }

    func snapshot(includePieceLists: Bool = false) -> Snapshot {
        policy.withLock { p in
            Snapshot(
                verifiedBytes: p.verifiedBytes,
                receivingBytes: p.receivingBytes,
                verifiedPieces: p.scheduler.verifiedCount,
                missingPieces: includePieceLists ? p.scheduler.missingPieces : [],
                verified: includePieceLists ? p.scheduler.verifiedBitfield : PieceBitfield(pieceCount: 0),
                peers: p.peers,
                retriedPieces: p.retriedPieces
            )
        }
    }
}
