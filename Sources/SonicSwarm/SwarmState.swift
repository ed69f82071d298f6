import SonicCore
import Synchronization

/// What every peer task of one download shares: the ``PieceScheduler`` and the counters the
/// progress line and the `--json` report are made of, behind one lock. Calls are short and
/// synchronous; no I/O happens under the lock.
final class SwarmState: Sendable {
    struct PeerRecord: Sendable {
        var endpoint: Endpoint
        var fileBytes: UInt64 = 0
        var wireBytes: UInt64 = 0
        var pieces = 0
        var failures = 0
        var banned = false
        var connected = false
        var lastError: String?
    }

    private struct State: Sendable {
        var scheduler: PieceScheduler
        var peers: [PeerRecord]
        /// Pieces each peer should stop fetching because another peer's copy was verified first.
        var cancellations: [Int: Set<Int>] = [:]
        var verifiedBytes: UInt64
        /// Bytes received into pieces still in flight (not yet verified).
        var receivingBytes: UInt64 = 0
        var retriedPieces = 0
        /// Requests in flight across all peers (pieces buffered or about to be).
        var inFlight = 0
        /// Smoothed time from request to verified piece, in seconds (nil before the first).
        var pieceSeconds: Double?
    }

    let manifest: Manifest
    /// Requests in flight across all peers at most (beyond each peer's first): bounds the
    /// memory of buffered pieces whatever the number of peers.
    let maximumInFlight: Int
    private let state: Mutex<State>

    init(manifest: Manifest, peers: [Endpoint], alreadyVerified: [Int], maxRequestersPerPiece: Int = 2,
         maximumInFlightBytes: Int = 32 << 20) {
        self.manifest = manifest
        self.maximumInFlight = max(1, maximumInFlightBytes / manifest.pieceSize)
        var scheduler = PieceScheduler(pieceCount: manifest.pieceCount, alreadyVerified: alreadyVerified,
                                       maxRequestersPerPiece: maxRequestersPerPiece)
        for id in peers.indices { scheduler.addPeer(id) }
        let reusedBytes = alreadyVerified.reduce(UInt64(0)) { $0 + UInt64(manifest.length(ofPiece: $1)) }
        self.state = Mutex(State(scheduler: scheduler, peers: peers.map { PeerRecord(endpoint: $0) },
                                 verifiedBytes: reusedBytes))
    }

    // MARK: Work

    /// The next piece for `peer`, or nil (nothing to do now, banned, or over the in-flight
    /// budget). Endgame duplicates only go to an idle peer (`idle`: nothing in flight); an idle
    /// peer may always have one request, so the budget never starves a peer.
    func nextPiece(for peer: Int, idle: Bool) -> PieceScheduler.Assignment? {
        state.withLock { s in
            guard idle || s.inFlight < maximumInFlight else { return nil }
            let assignment = s.scheduler.nextPiece(for: peer, now: .now, allowDuplicate: idle,
                                                   duplicateAfter: Self.duplicationAge(typical: s.pieceSeconds))
            if assignment != nil { s.inFlight += 1 }
            return assignment
        }
    }

    /// How long a piece must have been in flight before an idle peer copies it: twice the
    /// typical piece time of this download, or 250 ms before any piece has arrived.
    static func duplicationAge(typical seconds: Double?) -> Duration {
        guard let seconds else { return .milliseconds(250) }
        return .milliseconds(Int64(max(0.02, 2 * seconds) * 1000))
    }

    /// A request of `peer` ended (verified, failed, cancelled or dropped with its connection),
    /// with `receivedBytes` in its buffer.
    func requestEnded(count: Int = 1, receivedBytes: Int) {
        state.withLock {
            $0.inFlight = max(0, $0.inFlight - count)
            $0.receivingBytes -= min($0.receivingBytes, UInt64(receivedBytes))
        }
    }

    /// Bytes of a piece in flight arrived (for progress within a piece).
    func receiving(_ bytes: Int) {
        state.withLock { $0.receivingBytes += UInt64(bytes) }
    }

    /// Records a verified piece, taking `seconds` from request to verification; the other
    /// peers that had it in flight find it in ``takeCancellations(for:)``.
    func verified(_ piece: Int, by peer: Int, after seconds: Double) {
        state.withLock { s in
            guard !s.scheduler.isVerified(piece) else { return }
            s.pieceSeconds = s.pieceSeconds.map { 0.8 * $0 + 0.2 * seconds } ?? seconds
            let others = s.scheduler.pieceVerified(piece, by: peer)
            let length = UInt64(manifest.length(ofPiece: piece))
            s.verifiedBytes += length
            s.peers[peer].fileBytes += length
            s.peers[peer].pieces += 1
            for other in others { s.cancellations[other, default: []].insert(piece) }
        }
    }

    /// A piece from `peer` failed verification: the peer is banned for this download.
    func corrupt(_ piece: Int, from peer: Int, reason: String) {
        state.withLock { s in
            _ = s.scheduler.pieceCorrupt(piece, from: peer)
            s.peers[peer].failures += 1
            s.peers[peer].banned = true
            s.peers[peer].lastError = reason
            s.retriedPieces += 1
        }
    }

    func abandoned(_ piece: Int, by peer: Int) {
        state.withLock { s in
            s.scheduler.pieceAbandoned(piece, by: peer)
            s.cancellations[peer]?.remove(piece)
        }
    }

    /// The peer dropped out (connection failed, stalled, refused): its pieces go back.
    func peerFailed(_ peer: Int, reason: String) {
        state.withLock { s in
            let returned = s.scheduler.peerFailed(peer)
            s.retriedPieces += returned.count
            s.peers[peer].failures += 1
            s.peers[peer].connected = false
            s.peers[peer].lastError = reason
            s.cancellations[peer] = nil
        }
    }

    func peerFinished(_ peer: Int) {
        state.withLock { s in
            _ = s.scheduler.peerFailed(peer)
            s.peers[peer].connected = false
        }
    }

    func connected(_ peer: Int) {
        state.withLock { $0.peers[peer].connected = true }
    }

    func countWire(_ bytes: Int, peer: Int) {
        state.withLock { $0.peers[peer].wireBytes += UInt64(bytes) }
    }

    /// Pieces `peer` should cancel (taken: each is reported once).
    func takeCancellations(for peer: Int) -> Set<Int> {
        state.withLock { $0.cancellations.removeValue(forKey: peer) ?? [] }
    }

    func isVerified(_ piece: Int) -> Bool {
        state.withLock { $0.scheduler.isVerified(piece) }
    }

    func isBanned(_ peer: Int) -> Bool {
        state.withLock { $0.scheduler.isBanned(peer) }
    }

    // MARK: Status

    var isComplete: Bool { state.withLock { $0.scheduler.isComplete } }


    struct Snapshot: Sendable {
        var verifiedBytes: UInt64
        var receivingBytes: UInt64
        var verifiedPieces: Int
        var pieceCount: Int
        var missingPieces: [Int]
        var verifiedList: [Int]
        var peers: [PeerRecord]
        var retriedPieces: Int
    }

    func snapshot(includePieceLists: Bool = false) -> Snapshot {
        state.withLock { s in
            Snapshot(
                verifiedBytes: s.verifiedBytes,
                receivingBytes: s.receivingBytes,
                verifiedPieces: s.scheduler.verifiedCount,
                pieceCount: manifest.pieceCount,
                missingPieces: includePieceLists ? s.scheduler.missingPieces : [],
                verifiedList: includePieceLists ? (0..<manifest.pieceCount).filter { s.scheduler.isVerified($0) } : [],
                peers: s.peers,
                retriedPieces: s.retriedPieces
            )
        }
    }
}
