import SonicCore

// The scheduler's internal records and the few transitions that keep them consistent.
// Every change to a piece's requesters goes through addRequest / removeRequest / markVerified,
// which maintain `unassignedCount`, the returned-pieces heap and the endgame queue together.

/// One peer's request for one piece.
struct PieceRequest: Sendable {
    let peer: PieceScheduler.PeerID
    let startedAt: ContinuousClock.Instant
    /// Global request ticket: breaks ties between requests made at the same instant.
    let order: UInt64
}

struct PieceRecord: Sendable {
    var isVerified = false
    /// Who has the piece in flight, in request order. Empty when missing or verified.
    var requests: [PieceRequest] = []
    /// The piece has an entry in `returnedPieces` (possibly stale, if it verified since).
    var isQueued = false
    /// The piece has a live entry in `endgameQueue`.
    var isEndgameCandidate = false
    /// Bumped on every change of `requests` or verification; an endgame entry with another
    /// generation is stale.
    var generation: UInt32 = 0
}

struct PeerRecord: Sendable {
    enum Status: Sendable {
        case active
        /// Disconnected or stalled; may be added again.
        case failed
        /// Sent a corrupt piece; never gets work again in this download.
        case banned
    }

    var status = Status.active
    /// The pieces the peer holds; nil: every piece (a complete holder).
    var holdings: PieceBitfield?
    var inFlight: Set<Int> = []
    var verifiedCount = 0
    /// Stable across downloads (see ``PieceScheduler/setAffinity(_:of:)``); nil: none.
    var affinity: UInt64?
}

/// A piece that may take one more requester, keyed by its oldest request.
struct EndgameEntry: Comparable, Sendable {
    let startedAt: ContinuousClock.Instant
    let order: UInt64
    let piece: Int
    let generation: UInt32

    static func < (lhs: EndgameEntry, rhs: EndgameEntry) -> Bool {
        (lhs.startedAt, lhs.order, lhs.piece, lhs.generation) < (rhs.startedAt, rhs.order, rhs.piece, rhs.generation)
    }
}

extension PieceScheduler {
    /// Missing and nobody has it in flight.
    func isUnassigned(_ piece: Int) -> Bool {
        !pieces[piece].isVerified && pieces[piece].requests.isEmpty
    }

    /// Removes and returns the lowest unassigned piece. Requires `unassignedCount > 0`.
    mutating func takeLowestUnassigned() -> Int {
        skipToUnassigned()
        if let returned = returnedPieces.min, returned < cursor || cursor == pieceCount {
            returnedPieces.popMin()
            pieces[returned].isQueued = false
            return returned
        }
        precondition(cursor < pieceCount, "unassignedCount is \(unassignedCount) but no unassigned piece exists")
        defer { cursor += 1 }
        return cursor
    }

    /// Drops heap entries of pieces verified (late data) while queued, and moves the cursor
    /// to the lowest unassigned piece at or after it: afterwards the heap's minimum, if any,
    /// is a given-back piece below the cursor.
    mutating func skipToUnassigned() {
        while let head = returnedPieces.min, !isUnassigned(head) {
            returnedPieces.popMin()
            pieces[head].isQueued = false
        }
        // Each piece is passed over once by the cursor: amortised O(1).
        while cursor < pieceCount && !isUnassigned(cursor) {
            cursor += 1
        }
    }

    /// Removes and returns the highest never-assigned piece (the end of the file), or the
    /// lowest unassigned one once the two ends have met. Requires `unassignedCount > 0`.
    /// A piece taken here and handed back later is found again by the forward cursor, which
    /// has not passed it.
    mutating func takeHighestUnassigned() -> Int {
        while topCursor >= cursor && !isUnassigned(topCursor) {
            topCursor -= 1
        }
        guard topCursor >= cursor else { return takeLowestUnassigned() }
        defer { topCursor -= 1 }
        return topCursor
    }

    /// Removes and returns the endgame piece for `peer`: the oldest live candidate it does
    /// not already request. Candidates it does request are put back.
    /// The oldest in-flight piece `peer` may duplicate, if its oldest request started no later
    /// than `cutoff` (the queue is ordered by start, so the first too-young entry ends the search).
    mutating func takeEndgameCandidate(for peer: PeerID, startedBy cutoff: ContinuousClock.Instant) -> Int? {
        var ownPieces: [EndgameEntry] = []
        defer {
            for entry in ownPieces { endgameQueue.insert(entry) }
        }
        while let entry = endgameQueue.popMin() {
            let record = pieces[entry.piece]
            guard entry.generation == record.generation else { continue }
            if entry.startedAt > cutoff {
                ownPieces.append(entry)
                return nil
            }
            if record.requests.contains(where: { $0.peer == peer }) || !holds(peer, entry.piece) {
                ownPieces.append(entry)
                continue
            }
            // Its entry is gone from the queue; addRequest re-files it if it can take more.
            pieces[entry.piece].isEndgameCandidate = false
            endgameCandidateCount -= 1
            return entry.piece
        }
        return nil
    }

    mutating func addRequest(piece: Int, peer: PeerID, now: ContinuousClock.Instant) {
        if pieces[piece].requests.isEmpty {
            unassignedCount -= 1
        }
        pieces[piece].requests.append(PieceRequest(peer: peer, startedAt: now, order: nextRequestOrder))
        nextRequestOrder += 1
        peers[peer]?.inFlight.insert(piece)
        pieceRequestsChanged(piece)
    }

    /// Ends `peer`'s request for `piece`, if it has one; the piece goes back to the
    /// unassigned pieces when that was its last requester.
    mutating func removeRequest(piece: Int, peer: PeerID) {
        guard let index = pieces[piece].requests.firstIndex(where: { $0.peer == peer }) else { return }
        pieces[piece].requests.remove(at: index)
        peers[peer]?.inFlight.remove(piece)
        if pieces[piece].requests.isEmpty && !pieces[piece].isVerified {
            unassignedCount += 1
            // Pieces at or past the cursor are found by the cursor itself.
            if piece < cursor && !pieces[piece].isQueued {
                pieces[piece].isQueued = true
                returnedPieces.insert(piece)
            }
        }
        pieceRequestsChanged(piece)
    }

    /// Gives back every piece `peer` has in flight. Returns them sorted.
    mutating func releaseAll(of peer: PeerID) -> [Int] {
        guard let held = peers[peer]?.inFlight.sorted() else { return [] }
        for piece in held {
            removeRequest(piece: piece, peer: peer)
        }
        return held
    }

    mutating func markVerified(_ piece: Int) {
        if pieces[piece].requests.isEmpty {
            // Verified while unassigned (late data): a stale heap entry may remain, and
            // takeLowestUnassigned drops it.
            unassignedCount -= 1
        }
        for request in pieces[piece].requests {
            peers[request.peer]?.inFlight.remove(piece)
        }
        pieces[piece].requests = []
        pieces[piece].isVerified = true
        verifiedCount += 1
        pieceRequestsChanged(piece)
    }

    /// Re-files `piece` in the endgame queue after its requesters changed: a fresh entry if it
    /// can take another requester, none otherwise (older entries go stale).
    mutating func pieceRequestsChanged(_ piece: Int) {
        pieces[piece].generation &+= 1
        let record = pieces[piece]
        let canTakeMore = !record.isVerified && !record.requests.isEmpty
            && record.requests.count < maxRequestersPerPiece
        if canTakeMore != record.isEndgameCandidate {
            endgameCandidateCount += canTakeMore ? 1 : -1
            pieces[piece].isEndgameCandidate = canTakeMore
        }
        if canTakeMore, let oldest = record.requests.min(by: { ($0.startedAt, $0.order) < ($1.startedAt, $1.order) }) {
            endgameQueue.insert(EndgameEntry(
                startedAt: oldest.startedAt, order: oldest.order, piece: piece, generation: record.generation))
        }
        // Normal mode files an entry for every assignment and verification stales it; rebuild
        // once stale entries dominate, so the queue stays O(in-flight pieces): amortised O(1).
        if endgameQueue.count > 2 * endgameCandidateCount + 64 {
            endgameQueue = MinHeap(endgameQueue.elements.filter { pieces[$0.piece].generation == $0.generation })
        }
    }
}
