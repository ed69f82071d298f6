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
        /// The same, per request: peer → piece → bytes.
        var received: [Int: [Int: Int]] = [:]
        /// Throughput per peer, for the tail rules.
        var rates = PeerRates()
        var retriedPieces = 0
        /// Requests in flight across all peers (pieces buffered or about to be).
        var inFlight = 0
        /// Smoothed time from request to verified piece, in seconds (nil before the first).
        var pieceSeconds: Double?
    }

    let manifest: Manifest
    /// Signalled whenever work may have become available (``ChangeSignal``).
    let changes = ChangeSignal()
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
        let reusedBytes = Self.bytes(ofPieces: alreadyVerified, in: manifest)
        self.state = Mutex(State(scheduler: scheduler, peers: peers.map { PeerRecord(endpoint: $0) },
                                 verifiedBytes: reusedBytes))
    }

    /// Bytes of `pieces` of `manifest`.
    static func bytes(ofPieces pieces: [Int], in manifest: Manifest) -> UInt64 {
        pieces.reduce(0) { $0 + UInt64(manifest.length(ofPiece: $1)) }
    }

    // MARK: Work

    /// The next piece for `peer`, or nil (nothing to do now, banned, over the in-flight
    /// budget, or a piece it would deliver after everyone else finished: ``TailPolicy``).
    /// Endgame duplicates only go to an idle peer (`idle`: nothing in flight); an idle peer
    /// may always have one request, so the budget never starves a peer.
    func nextPiece(for peer: Int, idle: Bool, now: ContinuousClock.Instant) -> PieceScheduler.Assignment? {
        state.withLock { s in
            guard idle || s.inFlight < maximumInFlight else { return nil }
            let assignment: PieceScheduler.Assignment?
            if s.scheduler.unassignedCount > 0 {
                guard shouldStart(s, peer: peer) else { return nil }
                assignment = s.scheduler.nextPiece(for: peer, now: now, allowDuplicate: false)
            } else if idle {
                assignment = duplicateForIdle(&s, peer: peer, now: now)
            } else {
                assignment = nil
            }
            if assignment != nil { s.inFlight += 1 }
            return assignment
        }
    }

    /// Bytes `peer` still owes on its in-flight requests.
    private func queuedBytes(_ s: State, peer: Int) -> Double {
        s.scheduler.inFlight(for: peer).reduce(0.0) { total, piece in
            total + Double(manifest.length(ofPiece: piece) - (s.received[peer]?[piece] ?? 0))
        }
    }

    /// Rule one of ``TailPolicy``, with this download's numbers.
    private func shouldStart(_ s: State, peer: Int) -> Bool {
        let others = s.peers.indices.filter { $0 != peer && s.peers[$0].connected && s.scheduler.isActive($0) }.map {
            (rate: s.rates.rate(of: $0), queuedBytes: queuedBytes(s, peer: $0))
        }
        return TailPolicy.shouldStart(pieceBytes: Double(manifest.pieceSize), queuedBytes: queuedBytes(s, peer: peer),
                                      rate: s.rates.rate(of: peer), others: others,
                                      unassignedPieces: s.scheduler.unassignedCount)
    }

    /// Rule two of ``TailPolicy``: the in-flight piece whose holder would deliver it latest,
    /// if `peer` can deliver a copy clearly sooner. Before rates are known, the age rule.
    private func duplicateForIdle(_ s: inout State, peer: Int, now: ContinuousClock.Instant) -> PieceScheduler.Assignment? {
        guard let rate = s.rates.rate(of: peer) else {
            return s.scheduler.nextPiece(for: peer, now: now, allowDuplicate: true,
                                         duplicateAfter: Self.duplicationAge(typical: s.pieceSeconds))
        }
        var best: (piece: Int, holderSeconds: Double)?
        for candidate in s.scheduler.duplicateCandidates(for: peer) {
            // The earliest projected delivery among its requesters.
            let holderSeconds = candidate.requests.map { request in
                holderSecondsLeft(s, holder: request.peer, piece: candidate.piece, startedAt: request.startedAt, now: now)
            }.min() ?? 0
            if holderSeconds > (best?.holderSeconds ?? 0) { best = (candidate.piece, holderSeconds) }
        }
        guard let best, TailPolicy.shouldDuplicate(pieceBytes: Double(manifest.length(ofPiece: best.piece)), rate: rate,
                                                   holderSeconds: best.holderSeconds)
        else { return nil }
        return s.scheduler.duplicate(best.piece, for: peer, now: now)
    }

    /// Seconds until `holder` delivers `piece`: what it owes on it and on the requests it
    /// made before it (they arrive first), at its rate. Without a rate: the age rule says
    /// whether the piece is late (infinitely far) or not (now).
    private func holderSecondsLeft(_ s: State, holder: Int, piece: Int, startedAt: ContinuousClock.Instant,
                                   now: ContinuousClock.Instant) -> Double {
        guard let rate = s.rates.rate(of: holder), rate > 0 else {
            return now - startedAt >= Self.duplicationAge(typical: s.pieceSeconds) ? .infinity : 0
        }
        let ahead = s.scheduler.requestsInOrder(of: holder).prefix { $0.piece != piece }.map(\.piece) + [piece]
        let owed = ahead.reduce(0.0) { $0 + Double(manifest.length(ofPiece: $1) - (s.received[holder]?[$1] ?? 0)) }
        return owed / rate
    }

    /// How long a piece must have been in flight before an idle peer copies it: twice the
    /// typical piece time of this download, or 250 ms before any piece has arrived.
    static func duplicationAge(typical seconds: Double?) -> Duration {
        guard let seconds else { return .milliseconds(250) }
        return .milliseconds(Int64(max(0.02, 2 * seconds) * 1000))
    }

    /// Requests of `peer` for `pieces` ended (verified, failed, cancelled or dropped with
    /// its connection): they leave the in-flight budget and the progress counts.
    func requestsEnded(peer: Int, pieces: [Int]) {
        state.withLock { s in
            s.inFlight = max(0, s.inFlight - pieces.count)
            for piece in pieces {
                let bytes = s.received[peer]?.removeValue(forKey: piece) ?? 0
                s.receivingBytes -= min(s.receivingBytes, UInt64(bytes))
            }
        }
        changes.signal()
    }

    /// `bytes` of `piece` arrived from `peer` at `now`: progress within the piece, and the
    /// peer's throughput.
    func receiving(_ bytes: Int, peer: Int, piece: Int, now: ContinuousClock.Instant) {
        state.withLock { s in
            s.receivingBytes += UInt64(bytes)
            s.received[peer, default: [:]][piece, default: 0] += bytes
            s.rates.record(bytes, from: peer, at: now)
        }
        changes.signal()
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
        changes.signal()
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
        changes.signal()
    }

    func abandoned(_ piece: Int, by peer: Int) {
        state.withLock { s in
            s.scheduler.pieceAbandoned(piece, by: peer)
            s.cancellations[peer]?.remove(piece)
        }
        changes.signal()
    }

    /// The peer dropped out (connection failed, stalled, refused): its pieces go back.
    func peerFailed(_ peer: Int, reason: String) {
        state.withLock { s in
            let returned = s.scheduler.peerFailed(peer)
            s.rates.forget(peer)
            s.retriedPieces += returned.count
            s.peers[peer].failures += 1
            s.peers[peer].connected = false
            s.peers[peer].lastError = reason
            s.cancellations[peer] = nil
        }
        changes.signal()
    }

    func peerFinished(_ peer: Int) {
        state.withLock { s in
            _ = s.scheduler.peerFailed(peer)
            s.peers[peer].connected = false
        }
        changes.signal()
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
        /// Verified pieces, for the resume record (empty unless asked for).
        var verified: PieceBitfield
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
                verified: includePieceLists ? s.scheduler.verifiedBitfield : PieceBitfield(pieceCount: 0),
                peers: s.peers,
                retriedPieces: s.retriedPieces
            )
        }
    }
}
