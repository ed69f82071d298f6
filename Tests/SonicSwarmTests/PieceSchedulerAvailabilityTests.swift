import SonicCore
import SonicSwarm
import Testing

/// Partial holders: peers that hold only some pieces (BITFIELD, HAVE).
@Suite("PieceScheduler: partial holders")
struct PieceSchedulerAvailabilityTests {
    static func bitfield(_ pieces: [Int], of count: Int = 8) -> PieceBitfield {
        PieceBitfield(pieceCount: count, pieces: pieces)
    }

    @Test func aPeerIsNeverAskedForAPieceItDoesNotHold() {
        var scheduler = PieceScheduler(pieceCount: 8)
        scheduler.addPeer(1)
        scheduler.setHoldings(Self.bitfield([2, 5]), of: 1)
        var got: [Int] = []
        while let assignment = scheduler.nextPiece(for: 1, now: at(0)) { got.append(assignment.piece) }
        #expect(got.sorted() == [2, 5])
        // Not even as an endgame duplicate of what another peer has in flight.
        scheduler.addPeer(2)
        while scheduler.nextPiece(for: 2, now: at(0), allowDuplicate: false) != nil {}
        #expect(scheduler.isEndgame)
        #expect(scheduler.nextPiece(for: 1, now: at(10)) == nil)
        #expect(scheduler.duplicateCandidates(for: 1).isEmpty)
        #expect(scheduler.duplicate(0, for: 1, now: at(10)) == nil)
    }

    @Test func aHaveMakesAPieceRequestable() {
        var scheduler = PieceScheduler(pieceCount: 8)
        scheduler.addPeer(1)
        scheduler.setHoldings(Self.bitfield([]), of: 1)
        #expect(scheduler.nextPiece(for: 1, now: at(0)) == nil)
        scheduler.peerHas(6, peer: 1)
        #expect(scheduler.holds(1, 6))
        #expect(scheduler.nextPiece(for: 1, now: at(0)) == .init(piece: 6, isDuplicate: false))
    }

    @Test func theRarestPieceGoesFirst() {
        var scheduler = PieceScheduler(pieceCount: 8)
        // Peer 0 is a complete seeder; partial holders 1 and 2 both hold 0–3, peer 3 holds 4–5.
        for peer in 0...3 { scheduler.addPeer(peer) }
        scheduler.setHoldings(Self.bitfield([0, 1, 2, 3]), of: 1)
        scheduler.setHoldings(Self.bitfield([0, 1, 2, 3]), of: 2)
        scheduler.setHoldings(Self.bitfield([4, 5]), of: 3)
        // The seeder is asked for what only it has (6, 7), then the pieces one partial holder
        // has (4, 5), then the rest.
        var order: [Int] = []
        while let assignment = scheduler.nextPiece(for: 0, now: at(0), allowDuplicate: false) {
            order.append(assignment.piece)
        }
        #expect(Set(order.prefix(2)) == [6, 7])
        #expect(Set(order.dropFirst(2).prefix(2)) == [4, 5])
        #expect(Set(order.dropFirst(4)) == [0, 1, 2, 3])
    }

    @Test func equallyRarePiecesAreOrderedDifferentlyByEachDownload() {
        func firstPieces(seed: UInt64) -> [Int] {
            var scheduler = PieceScheduler(pieceCount: 64, tieBreakSeed: seed)
            scheduler.addPeer(0)
            scheduler.addPeer(1)
            scheduler.setHoldings(PieceBitfield(pieceCount: 64), of: 1)  // a downloader with nothing yet
            return (0..<4).compactMap { _ in scheduler.nextPiece(for: 0, now: at(0))?.piece }
        }
        // The same seed, the same order; different seeds, different first pieces, not 0, 1, 2…
        #expect(firstPieces(seed: 1) == firstPieces(seed: 1))
        let firsts = Set((1...8).map { firstPieces(seed: $0).first! })
        #expect(firsts.count >= 6, "\(firsts)")
        #expect(firstPieces(seed: 3) != [0, 1, 2, 3])
    }

    @Test func withOnlyCompleteHoldersPiecesGoLowestFirst() {
        var scheduler = PieceScheduler(pieceCount: 8, tieBreakSeed: 42)
        scheduler.addPeer(0)
        scheduler.addPeer(1)
        let order = (0..<8).compactMap { i in scheduler.nextPiece(for: i % 2, now: at(0))?.piece }
        #expect(order == Array(0..<8))
    }

    @Test func aFailedOrBannedPartialHolderNoLongerCountsTowardsRarity() {
        var scheduler = PieceScheduler(pieceCount: 8)
        for peer in 0...2 { scheduler.addPeer(peer) }
        scheduler.setHoldings(Self.bitfield([0, 1, 2, 3, 4, 5]), of: 1)
        scheduler.setHoldings(Self.bitfield([6]), of: 2)
        // 7 is rarest (only the seeder), then 6 (one holder), then 0–5.
        #expect(scheduler.nextPiece(for: 0, now: at(0))?.piece == 7)
        scheduler.peerFailed(2)
        // With peer 2 gone, 6 is as rare as 7 was: only the seeder has it; 0–5 stay behind.
        #expect(scheduler.nextPiece(for: 0, now: at(0))?.piece == 6)
        scheduler.addPeer(2)
        #expect(scheduler.holds(2, 6) && !scheduler.holds(2, 0))
    }
}
