import SonicCore

// Partial holders (the swarm feature): peers that hold only some pieces, announced with a
// BITFIELD and grown by HAVE. With none active, pieces go out lowest first (the fast path:
// the file fills front to back and the whole-file hash reads nothing back). With some, a
// peer gets the rarest unassigned piece it holds, counting the active partial holders of
// each piece, so the pieces only a seeder has go out first and spread; equally rare pieces
// are ordered by a per-download permutation, so downloaders that start together ask for
// different pieces.

extension PieceScheduler {
    /// `peer` holds only the pieces in `holdings` (a BITFIELD), replacing what it held. A
    /// bitfield of every piece makes it a complete holder (the fast path stays open).
    public mutating func setHoldings(_ holdings: PieceBitfield, of peer: PeerID) {
        precondition(holdings.pieceCount == pieceCount, "a bitfield of \(holdings.pieceCount) pieces for \(pieceCount)")
        guard peers[peer] != nil else { return }
        let active = peers[peer]?.status == .active
        if active { countHoldings(of: peer, by: -1) }
        peers[peer]?.holdings = holdings.pieces.count == pieceCount ? nil : holdings
        if active { countHoldings(of: peer, by: 1) }
    }

    /// `peer` now holds `piece` too (a HAVE). Nothing changes for a complete holder.
    public mutating func peerHas(_ piece: Int, peer: PeerID) {
        precondition(pieces.indices.contains(piece), "piece \(piece) is out of range")
        guard peers[peer]?.holdings?.insert(piece) == true, peers[peer]?.status == .active else { return }
        availability[piece] += 1
    }

    /// Whether `peer` holds `piece` (a peer without a bitfield holds every piece).
    public func holds(_ peer: PeerID, _ piece: Int) -> Bool {
        peers[peer]?.holdings.map { $0.contains(piece) } ?? true
    }

    /// Adds (`delta` 1) or removes (-1) an active peer's holdings from the availability counts.
    mutating func countHoldings(of peer: PeerID, by delta: Int) {
        guard let holdings = peers[peer]?.holdings else { return }
        activePartialHolders += delta
        for piece in holdings.pieces {
            availability[piece] = UInt32(Int(availability[piece]) + delta)
        }
    }

    /// The unassigned piece `peer` should fetch next, removed from the unassigned pieces; nil
    /// if it holds none of them. Requires `unassignedCount > 0`.
    mutating func takeUnassigned(for peer: PeerID, fromTheEnd: Bool = false) -> Int? {
        if activePartialHolders == 0 {
            return fromTheEnd ? takeHighestUnassigned() : takeLowestUnassigned(preferring: peer)
        }
        // O(pieces): the rarest unassigned piece the peer holds.
        var best: (piece: Int, rarity: UInt32, order: UInt64)?
        for piece in 0..<pieceCount where isUnassigned(piece) && holds(peer, piece) {
            let candidate = (piece: piece, rarity: availability[piece], order: tieBreak(piece))
            if let b = best, (b.rarity, b.order) <= (candidate.rarity, candidate.order) { continue }
            best = candidate
        }
        // Taken out of order: the cursor and the returned-pieces heap skip a piece in flight.
        return best?.piece
    }

    /// A pseudo-random permutation of piece indices, fixed for one download by its seed.
    func tieBreak(_ piece: Int) -> UInt64 {
        Self.mix(UInt64(piece) &+ tieBreakSeed &* 0x9E37_79B9_7F4A_7C15)
    }

    /// splitmix64's finaliser: a bijection of 64-bit words that spreads every input bit.
    static func mix(_ value: UInt64) -> UInt64 {
        var x = value
        x = (x ^ (x >> 30)) &* 0xBF58_476D_1CE4_E5B9
        x = (x ^ (x >> 27)) &* 0x94D0_49BB_1331_11EB
        return x ^ (x >> 31)
    }
}
