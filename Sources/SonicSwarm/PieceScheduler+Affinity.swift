// Piece affinity: in the fast path (every active peer holds every piece), a piece has a home
// peer, chosen by rendezvous hashing of the piece index with a key that is the same for that
// peer in every download (the engine uses its address). A peer asking for work takes the
// lowest unassigned piece whose home it is, among the lowest few unassigned ones, and the
// lowest of all when none is. The file still fills front to back, a few pieces out of order
// at most, and work is still pulled: a fast peer takes more than its share. The last window
// of unassigned pieces goes strictly lowest first: a home left over low in the file and
// fetched last would make the whole-file hash read back everything above it after the last
// piece (8 × 20 MiB/s, three interleaved `--repeat 5` runs: 0.965–0.970 with homes to the
// end, 0.972–0.978 with this rule, 0.970–0.975 without homes).
//
// Why: a seeder keeps the deflated form of the blocks it sent (`DeflatedBlockCache`). With
// plain lowest-first the pieces a seeder serves depend on which connection happened to ask
// first, so the next downloader of the same file asked each seeder mostly for blocks another
// seeder had deflated: over four downloads from four text seeders, 28–34 % of lookups hit,
// against 65–66 % with homes (the first download misses everything; docs/PERFORMANCE.md).

extension PieceScheduler {
    /// Gives `peer` an affinity key: the same peer should get the same key in every download
    /// (a hash of its address, say), and different peers different keys. A peer without one
    /// is nobody's home and simply takes the lowest piece.
    public mutating func setAffinity(_ key: UInt64, of peer: PeerID) {
        peers[peer]?.affinity = key
    }

    /// How many of the lowest unassigned pieces a peer looks through for one of its own, for
    /// `members` peers with keys: twice as many as peers, so that with equal peers nearly every
    /// request finds one ((1 − 1/n)^2n ≈ 14 % do not), and few enough that the file still fills
    /// nearly in order.
    static func affinityWindow(members: Int) -> Int { min(2 * members, 64) }

    /// The active peer whose home `piece` is: the highest score of key and piece.
    static func home(of piece: Int, among members: [(peer: PeerID, key: UInt64)]) -> PeerID? {
        var best: (peer: PeerID, score: UInt64)?
        for member in members {
            let score = mix(member.key ^ (UInt64(piece) &* 0x9E37_79B9_7F4A_7C15))
            if best.map({ score > $0.score }) ?? true { best = (member.peer, score) }
        }
        return best?.peer
    }

    /// Removes and returns the piece for `peer` in the fast path: a given-back piece below
    /// the cursor first (lowest first, as always), else the first of the next
    /// ``affinityWindow(members:)`` unassigned pieces whose home is `peer`, else the lowest;
    /// the lowest too once no more than a window's worth is left. Requires
    /// `unassignedCount > 0`.
    mutating func takeLowestUnassigned(preferring peer: PeerID) -> Int {
        skipToUnassigned()
        guard peers[peer]?.affinity != nil, returnedPieces.min == nil else { return takeLowestUnassigned() }
        let members = peers.compactMap { id, record in
            record.status == .active ? record.affinity.map { (peer: id, key: $0) } : nil
        }.sorted { $0.peer < $1.peer }
        let window = Self.affinityWindow(members: members.count)
        guard members.count > 1, unassignedCount > window else { return takeLowestUnassigned() }
        var candidate = cursor
        var looked = 0
        // Pieces ahead of the cursor that are not unassigned are in flight or verified: a few
        // windows' worth in a fresh download; after a scattered resume, the walk passes the
        // verified pieces between the missing ones (PieceScheduler's cost line).
        while candidate < pieceCount && looked < window {
            if isUnassigned(candidate) {
                if Self.home(of: candidate, among: members) == peer {
                    if candidate == cursor { cursor += 1 }
                    return candidate
                }
                looked += 1
            }
            candidate += 1
        }
        return takeLowestUnassigned()
    }
}
