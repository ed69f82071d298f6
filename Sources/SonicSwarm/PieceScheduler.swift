/// Decides which piece each peer connection fetches next, and owns the state of every piece
/// of one download (DESIGN.md, "The swarm engine").
///
/// A pure state machine (STYLE.md item 5): no I/O, no clock, no concurrency. The engine owns
/// one instance, confined to wherever it serialises its connections' events, reports each
/// event to it and carries out what it answers: request a piece, cancel the duplicate
/// requests of a piece that just verified, drop a banned peer. Time comes in as `now`, so
/// tests drive it step by step.
///
/// Every peer is assumed to hold every piece (all sources share one content id). Piece
/// indices passed in must be in `0..<pieceCount`: the engine only reports pieces it was
/// handed, so anything else is a programming error and traps.
///
/// ```
///                nextPiece                 pieceVerified
///   missing ─────────────────▶ in flight ─────────────────▶ verified (final)
///      ▲                       1…maxRequestersPerPiece
///      │                       requesters
///      └──────────────────────────┘
///   the last requester abandons, fails, or sends a corrupt copy
/// ```
///
/// Work is pulled, never split up front: a peer gets its next piece when it asks, so a fast
/// peer ends up fetching proportionally more than a slow one, and no slow peer owns a fixed
/// share that stalls the end of the download.
///
/// - Normal mode: the lowest-index missing piece that nobody has in flight, so the file fills
///   front to back and given-back pieces are fetched again before later ones; among the
///   lowest few, a peer with an affinity key prefers the pieces whose home it is
///   (PieceScheduler+Affinity), so the next download asks each seeder for the same blocks.
/// - Endgame (no such piece left): an idle peer duplicates the in-flight piece requested
///   longest ago, at most ``maxRequestersPerPiece`` requesters per piece; the first verified
///   copy wins and ``pieceVerified(_:by:)`` names the requests to cancel.
///
/// Cost: ``nextPiece(for:now:)`` is O(log n) in normal mode (a cursor over never-assigned
/// pieces plus a min-heap of given-back ones), plus O(p²) with p peers for piece homes (at
/// most 2p candidates, each scored against every peer; p ≤ 32 by default, and a walk over
/// the pieces in flight or verified among them: after a scattered resume, up to 2p divided
/// by the share still missing); amortised
/// O((k + 1) log n) in endgame where k is the number of the asking peer's own in-flight
/// pieces older than the one it gets. Every event is O(log n) per piece it touches.
public struct PieceScheduler: Sendable {
    public typealias PeerID = Int

    /// A piece for one peer to request.
    public struct Assignment: Sendable, Hashable, CustomStringConvertible {
        /// Index of the piece in the file.
        public let piece: Int
        /// True when another peer already has this piece in flight (endgame): the engine
        /// should expect it to be cancelled if the other copy verifies first.
        public let isDuplicate: Bool

        public init(piece: Int, isDuplicate: Bool) {
            self.piece = piece
            self.isDuplicate = isDuplicate
        }

        public var description: String { isDuplicate ? "piece \(piece) (duplicate)" : "piece \(piece)" }
    }

    /// Number of pieces in the file.
    public let pieceCount: Int

    /// The most peers that may have one piece in flight at once. 2 means: one normal request
    /// plus at most one endgame duplicate (DESIGN.md, "What the anchors teach"). 1 disables
    /// endgame.
    public let maxRequestersPerPiece: Int

    /// Number of verified pieces, including those verified before this download resumed.
    public internal(set) var verifiedCount: Int

    /// Number of missing pieces that nobody has in flight: what normal mode still has to give.
    /// Zero while the download is incomplete means endgame.
    public internal(set) var unassignedCount: Int

    var pieces: [PieceRecord]
    var peers: [PeerID: PeerRecord]
    /// Per piece, how many active partial holders hold it (complete holders hold every piece
    /// and are not counted): the rarity that ``PieceScheduler+Availability`` orders by.
    var availability: [UInt32]
    /// Active peers that hold only some pieces; zero means the fast path (lowest first).
    var activePartialHolders = 0
    /// Orders equally rare pieces differently in every download (see ``tieBreak(_:)``).
    let tieBreakSeed: UInt64

    /// Every piece below `cursor` that is missing and not in flight is in `returnedPieces`;
    /// pieces from `cursor` on are found by moving the cursor forward.
    var cursor: Int
    var returnedPieces: MinHeap<Int>
    /// Pieces above it were taken from the end of the file (``takeHighestUnassigned()``).
    var topCursor: Int

    /// Pieces that may take one more requester, oldest request first. Entries go stale (their
    /// generation no longer matches the piece's) instead of being removed.
    var endgameQueue: MinHeap<EndgameEntry>
    /// How many pieces currently have a live entry in `endgameQueue`; bounds its stale share.
    var endgameCandidateCount: Int
    /// Ticket of the next request, ordering requests made at the same instant.
    var nextRequestOrder: UInt64

    /// Creates the scheduler for a file of `pieceCount` pieces.
    ///
    /// - Parameters:
    ///   - pieceCount: pieces in the file; 0 (an empty file) is complete at once.
    ///   - alreadyVerified: pieces verified before (a resumed download); they are never handed
    ///     out and count towards completion. Repeats are allowed; each index must be in
    ///     `0..<pieceCount` (validate a resume record before passing it here).
    ///   - maxRequestersPerPiece: see ``maxRequestersPerPiece``; at least 1.
    ///   - tieBreakSeed: orders equally rare pieces when some peers hold only part of the file,
    ///     so that downloaders starting together do not all ask for the same piece first.
    public init(pieceCount: Int, alreadyVerified: some Sequence<Int> = [], maxRequestersPerPiece: Int = 2,
                tieBreakSeed: UInt64 = 0) {
        precondition(pieceCount >= 0, "pieceCount must not be negative")
        precondition(maxRequestersPerPiece >= 1, "maxRequestersPerPiece must be at least 1")
        self.pieceCount = pieceCount
        self.maxRequestersPerPiece = maxRequestersPerPiece
        self.pieces = Array(repeating: PieceRecord(), count: pieceCount)
        self.peers = [:]
        self.availability = Array(repeating: 0, count: pieceCount)
        self.tieBreakSeed = tieBreakSeed
        self.cursor = 0
        self.returnedPieces = MinHeap()
        self.topCursor = pieceCount - 1
        self.endgameQueue = MinHeap()
        self.endgameCandidateCount = 0
        self.nextRequestOrder = 0
        var verified = 0
        for piece in alreadyVerified {
            precondition(pieces.indices.contains(piece), "already verified piece \(piece) is out of range")
            if !pieces[piece].isVerified {
                pieces[piece].isVerified = true
                verified += 1
            }
        }
        self.verifiedCount = verified
        self.unassignedCount = pieceCount - verified
    }

    // MARK: - Events

    /// Registers a peer so it can ask for work.
    ///
    /// Adding a peer that is already active does nothing. A peer that failed
    /// (``peerFailed(_:)``) becomes active again, e.g. after a reconnect, keeping its credit.
    /// A banned peer stays banned for the whole download.
    public mutating func addPeer(_ peer: PeerID) {
        switch peers[peer]?.status {
        case nil:
            peers[peer] = PeerRecord()
        case .failed:
            peers[peer]?.status = .active
            countHoldings(of: peer, by: 1)
        case .active, .banned:
            break
        }
    }

    /// The next piece `peer` should request, recorded as in flight from it since `now`;
    /// nil if it should stay idle: nothing useful to do (complete, or every in-flight piece
    /// already has enough requesters or is its own), or the peer is unknown, failed or banned.
    ///
    /// - Normal mode: the lowest-index missing piece not in flight anywhere; with
    ///   `fromTheEnd`, the highest (see ``SwarmPolicy``: a peer's pipelined request before
    ///   it has delivered anything).
    /// - Endgame (no such piece left): among in-flight pieces this peer does not already
    ///   hold and that have fewer than ``maxRequestersPerPiece`` requesters, the one whose
    ///   oldest request started longest ago (the slowest), marked as a duplicate — only when
    ///   `allowDuplicate`: the engine passes it for a peer with nothing in flight, so that
    ///   only idle peers duplicate and a busy pipeline never wastes bandwidth on copies —
    ///   and only a piece in flight for at least `duplicateAfter` (a piece that is merely
    ///   young is not slow, and copying it would only double its bytes on the wire).
    public mutating func nextPiece(for peer: PeerID, now: ContinuousClock.Instant,
                                   allowDuplicate: Bool = true, duplicateAfter: Duration = .zero,
                                   fromTheEnd: Bool = false) -> Assignment? {
        guard peers[peer]?.status == .active else { return nil }
        if unassignedCount > 0 {
            guard let piece = takeUnassigned(for: peer, fromTheEnd: fromTheEnd) else { return nil }
            addRequest(piece: piece, peer: peer, now: now)
            return Assignment(piece: piece, isDuplicate: false)
        }
        guard allowDuplicate, let piece = takeEndgameCandidate(for: peer, startedBy: now - duplicateAfter) else { return nil }
        addRequest(piece: piece, peer: peer, now: now)
        return Assignment(piece: piece, isDuplicate: true)
    }

    /// Endgame, with the piece chosen by the engine's own rule (projected finish times):
    /// `peer` becomes another requester of `piece`, if the piece is in flight, not verified,
    /// has fewer than ``maxRequestersPerPiece`` requesters and is not `peer`'s already.
    public mutating func duplicate(_ piece: Int, for peer: PeerID, now: ContinuousClock.Instant) -> Assignment? {
        guard peers[peer]?.status == .active, pieces.indices.contains(piece), holds(peer, piece) else { return nil }
        let record = pieces[piece]
        guard !record.isVerified, !record.requests.isEmpty, record.requests.count < maxRequestersPerPiece,
              !record.requests.contains(where: { $0.peer == peer }) else { return nil }
        addRequest(piece: piece, peer: peer, now: now)
        return Assignment(piece: piece, isDuplicate: true)
    }

    /// In endgame, the in-flight pieces `peer` could copy (``duplicate(_:for:now:)``), each
    /// with its requesters and when they asked. O(pieces in flight).
    public func duplicateCandidates(for peer: PeerID) -> [(piece: Int, requests: [(peer: PeerID, startedAt: ContinuousClock.Instant)])] {
        var seen = Set<Int>()
        var out: [(piece: Int, requests: [(peer: PeerID, startedAt: ContinuousClock.Instant)])] = []
        for record in peers.values {
            for piece in record.inFlight where seen.insert(piece).inserted && holds(peer, piece) {
                let requests = pieces[piece].requests
                guard requests.count < maxRequestersPerPiece, !requests.contains(where: { $0.peer == peer }) else { continue }
                out.append((piece, requests.map { ($0.peer, $0.startedAt) }))
            }
        }
        return out
    }

    /// `peer`'s in-flight pieces in the order it requested them (the order they arrive in).
    public func requestsInOrder(of peer: PeerID) -> [(piece: Int, startedAt: ContinuousClock.Instant)] {
        (peers[peer]?.inFlight ?? []).compactMap { piece -> (piece: Int, startedAt: ContinuousClock.Instant, order: UInt64)? in
            guard let request = pieces[piece].requests.first(where: { $0.peer == peer }) else { return nil }
            return (piece, request.startedAt, request.order)
        }.sorted { $0.order < $1.order }.map { ($0.piece, $0.startedAt) }
    }

    /// `piece` arrived from `peer` and its hash matched: it is verified for good and never
    /// handed out again, and `peer` is credited with it.
    ///
    /// Accepted even if `peer` no longer had the piece in flight (data that raced a
    /// cancellation is still good data).
    ///
    /// - Returns: the other peers that had the piece in flight, in request order; the engine
    ///   cancels their requests (they are already off their in-flight lists, so a later
    ///   ``pieceAbandoned(_:by:)`` for them is harmless). Empty if the piece was verified
    ///   already.
    @discardableResult
    public mutating func pieceVerified(_ piece: Int, by peer: PeerID) -> [PeerID] {
        precondition(pieces.indices.contains(piece), "piece \(piece) is out of range")
        guard !pieces[piece].isVerified else { return [] }
        let others = pieces[piece].requests.lazy.map(\.peer).filter { $0 != peer }
        let cancelled = Array(others)
        markVerified(piece)
        peers[peer]?.verifiedCount += 1
        return cancelled
    }

    /// `piece` from `peer` failed its hash check: the peer is banned for the rest of this
    /// download (it never gets another piece, even if added again), and everything it had in
    /// flight goes back. The piece itself becomes missing again unless another peer still
    /// has it in flight, and is then handed to another peer.
    ///
    /// A peer never seen before is recorded as banned too.
    ///
    /// - Returns: the banned peer's other in-flight pieces (not `piece`), sorted; the engine
    ///   drops those requests with the connection.
    @discardableResult
    public mutating func pieceCorrupt(_ piece: Int, from peer: PeerID) -> [Int] {
        precondition(pieces.indices.contains(piece), "piece \(piece) is out of range")
        removeRequest(piece: piece, peer: peer)
        let others = releaseAll(of: peer)
        if peers[peer]?.status == .active { countHoldings(of: peer, by: -1) }
        peers[peer, default: PeerRecord()].status = .banned
        return others
    }

    /// `peer`'s request for `piece` ended without data (cancelled, error answer): the piece
    /// goes back (missing again unless another peer has it in flight). The peer stays usable.
    /// Does nothing if the peer did not have that piece in flight.
    public mutating func pieceAbandoned(_ piece: Int, by peer: PeerID) {
        precondition(pieces.indices.contains(piece), "piece \(piece) is out of range")
        removeRequest(piece: piece, peer: peer)
    }

    /// `peer` disconnected or stalled: all its in-flight pieces go back, and it gets no more
    /// work until it is added again. A banned peer stays banned.
    ///
    /// - Returns: the pieces it had in flight, sorted.
    @discardableResult
    public mutating func peerFailed(_ peer: PeerID) -> [Int] {
        guard let status = peers[peer]?.status else { return [] }
        let released = releaseAll(of: peer)
        if status == .active {
            countHoldings(of: peer, by: -1)
            peers[peer]?.status = .failed
        }
        return released
    }

    // MARK: - Queries

    /// True when every piece is verified (at once for an empty file).
    public var isComplete: Bool { verifiedCount == pieceCount }

    /// True when the download is incomplete and every missing piece is in flight: idle
    /// peers now get duplicates.
    public var isEndgame: Bool { unassignedCount == 0 && !isComplete }

    /// Indices of the pieces not verified yet (missing or in flight), ascending. O(pieceCount).
    public var missingPieces: [Int] {
        pieces.indices.filter { !pieces[$0].isVerified }
    }

    /// Whether `piece` (in `0..<pieceCount`) is verified.
    public func isVerified(_ piece: Int) -> Bool {
        pieces[piece].isVerified
    }

    /// Whether `peer` was banned for sending a corrupt piece.
    public func isBanned(_ peer: PeerID) -> Bool {
        peers[peer]?.status == .banned
    }

    /// Whether `peer` is known, not failed and not banned: the peers that may get work.
    public func isActive(_ peer: PeerID) -> Bool {
        peers[peer]?.status == .active
    }

    /// The pieces `peer` has in flight, ascending.
    public func inFlight(for peer: PeerID) -> [Int] {
        peers[peer]?.inFlight.sorted() ?? []
    }

    /// The peers that have `piece` (in `0..<pieceCount`) in flight, in request order.
    public func requesters(of piece: Int) -> [PeerID] {
        pieces[piece].requests.map(\.peer)
    }

    /// How many pieces were verified from `peer`'s data in this session.
    public func verifiedPieces(by peer: PeerID) -> Int {
        peers[peer]?.verifiedCount ?? 0
    }

    /// When the oldest request `peer` still has in flight started, or nil if it has none.
    /// The engine compares it with its stall timeout and calls ``peerFailed(_:)``.
    public func oldestRequestStart(for peer: PeerID) -> ContinuousClock.Instant? {
        guard let record = peers[peer] else { return nil }
        return record.inFlight.lazy.compactMap { piece in
            self.pieces[piece].requests.first(where: { $0.peer == peer })?.startedAt
        }.min()
    }
}
