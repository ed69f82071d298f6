import SonicSwarm
import Testing

@Suite("PieceScheduler: endgame")
struct PieceSchedulerEndgameTests {
    /// Peers 1 and 2 share pieces 0…3, requested at seconds 0…3 in index order.
    func fourPiecesInFlight(maxRequestersPerPiece: Int = 2) -> PieceScheduler {
        var scheduler = PieceScheduler(pieceCount: 4, maxRequestersPerPiece: maxRequestersPerPiece)
        for peer in 1...2 { scheduler.addPeer(peer) }
        for piece in 0..<4 {
            let peer = piece % 2 + 1
            #expect(scheduler.nextPiece(for: peer, now: at(piece)) == .init(piece: piece, isDuplicate: false))
        }
        #expect(scheduler.isEndgame)
        return scheduler
    }

    @Test func idlePeersDuplicateTheOldestInFlightPieceFirst() {
        var scheduler = fourPiecesInFlight()
        for peer in 3...6 { scheduler.addPeer(peer) }
        #expect(scheduler.nextPiece(for: 3, now: at(10)) == .init(piece: 0, isDuplicate: true))
        #expect(scheduler.nextPiece(for: 4, now: at(10)) == .init(piece: 1, isDuplicate: true))
        #expect(scheduler.nextPiece(for: 5, now: at(10)) == .init(piece: 2, isDuplicate: true))
        #expect(scheduler.nextPiece(for: 6, now: at(10)) == .init(piece: 3, isDuplicate: true))
        #expect(scheduler.requesters(of: 0) == [1, 3])
    }

    @Test func onlyPiecesInFlightLongerThanTheThresholdAreDuplicated() {
        // Pieces 0...3 were requested at t = 0, 1, 2, 3.
        var scheduler = fourPiecesInFlight()
        scheduler.addPeer(3)
        // At t = 4 with a 3 s threshold only piece 0 (4 s old) qualifies; piece 1 (3 s) just does.
        #expect(scheduler.nextPiece(for: 3, now: at(4), duplicateAfter: .seconds(3)) == .init(piece: 0, isDuplicate: true))
        #expect(scheduler.nextPiece(for: 3, now: at(4), duplicateAfter: .seconds(3)) == .init(piece: 1, isDuplicate: true))
        #expect(scheduler.nextPiece(for: 3, now: at(4), duplicateAfter: .seconds(3)) == nil)
        // Later, the younger pieces become old enough too.
        #expect(scheduler.nextPiece(for: 3, now: at(10), duplicateAfter: .seconds(3)) == .init(piece: 2, isDuplicate: true))
        // A young piece is never copied, however idle the peer.
        var fresh = fourPiecesInFlight()
        fresh.addPeer(3)
        #expect(fresh.nextPiece(for: 3, now: at(3), duplicateAfter: .seconds(10)) == nil)
        #expect(fresh.requesters(of: 0) == [1])
    }

    @Test func oldestMeansRequestedLongestAgoNotLowestIndex() {
        var scheduler = fourPiecesInFlight()
        // Piece 0 is given back and re-requested later than all others: it is now the newest.
        scheduler.pieceAbandoned(0, by: 1)
        #expect(scheduler.nextPiece(for: 2, now: at(5)) == .init(piece: 0, isDuplicate: false))
        scheduler.addPeer(3)
        #expect(scheduler.nextPiece(for: 3, now: at(6)) == .init(piece: 1, isDuplicate: true))
        #expect(scheduler.nextPiece(for: 3, now: at(6)) == .init(piece: 2, isDuplicate: true))
        #expect(scheduler.nextPiece(for: 3, now: at(6)) == .init(piece: 3, isDuplicate: true))
        #expect(scheduler.nextPiece(for: 3, now: at(6)) == .init(piece: 0, isDuplicate: true))
        #expect(scheduler.nextPiece(for: 3, now: at(6)) == nil)
    }

    @Test func neverMoreThanMaxRequestersPerPiece() {
        for maxRequesters in 1...3 {
            var scheduler = fourPiecesInFlight(maxRequestersPerPiece: maxRequesters)
            for peer in 3...12 { scheduler.addPeer(peer) }
            var duplicates = 0
            for step in 0..<5 {
                for peer in 1...12 {
                    if let assignment = scheduler.nextPiece(for: peer, now: at(10 + step)) {
                        #expect(assignment.isDuplicate)
                        duplicates += 1
                    }
                }
            }
            #expect(duplicates == 4 * (maxRequesters - 1))
            for piece in 0..<4 {
                let requesters = scheduler.requesters(of: piece)
                #expect(requesters.count == maxRequesters)
                #expect(Set(requesters).count == requesters.count)
            }
        }
    }

    @Test func neverDuplicatesToAPeerThatAlreadyHoldsThePiece() {
        var scheduler = PieceScheduler(pieceCount: 3)
        scheduler.addPeer(1)
        for piece in 0..<3 {
            #expect(scheduler.nextPiece(for: 1, now: at(piece))?.piece == piece)
        }
        // Only peer 1 has work, and all of it is its own.
        #expect(scheduler.nextPiece(for: 1, now: at(5)) == nil)

        // Peer 2 takes piece 0 as a duplicate; peer 1 still skips its own pieces.
        scheduler.addPeer(2)
        #expect(scheduler.nextPiece(for: 2, now: at(6)) == .init(piece: 0, isDuplicate: true))
        #expect(scheduler.nextPiece(for: 1, now: at(6)) == nil)
        #expect(scheduler.nextPiece(for: 2, now: at(6)) == .init(piece: 1, isDuplicate: true))
        #expect(scheduler.nextPiece(for: 2, now: at(6)) == .init(piece: 2, isDuplicate: true))
        #expect(scheduler.nextPiece(for: 2, now: at(6)) == nil)
        #expect(scheduler.nextPiece(for: 1, now: at(6)) == nil)
    }

    @Test func verifiedCopyNamesTheOtherRequesterToCancel() {
        var scheduler = fourPiecesInFlight()
        scheduler.addPeer(3)
        #expect(scheduler.nextPiece(for: 3, now: at(10)) == .init(piece: 0, isDuplicate: true))
        // The duplicate wins: the original requester is cancelled.
        #expect(scheduler.pieceVerified(0, by: 3) == [1])
        #expect(scheduler.inFlight(for: 1) == [2])
        #expect(scheduler.inFlight(for: 3) == [])
        #expect(scheduler.requesters(of: 0) == [])
        // The cancelled request reports back as abandoned: nothing changes.
        scheduler.pieceAbandoned(0, by: 1)
        #expect(scheduler.isVerified(0))
        // The original wins the next race: the duplicate is cancelled.
        #expect(scheduler.nextPiece(for: 3, now: at(11)) == .init(piece: 1, isDuplicate: true))
        #expect(scheduler.pieceVerified(1, by: 2) == [3])
        #expect(scheduler.inFlight(for: 3) == [])
        #expect(scheduler.verifiedPieces(by: 2) == 1)
        #expect(scheduler.verifiedPieces(by: 3) == 1)
    }

    @Test func verifiedPieceIsNeverDuplicated() {
        var scheduler = fourPiecesInFlight()
        scheduler.pieceVerified(0, by: 1)
        scheduler.pieceVerified(2, by: 1)
        scheduler.addPeer(3)
        var handedOut: [Int] = []
        while let assignment = scheduler.nextPiece(for: 3, now: at(10)) {
            handedOut.append(assignment.piece)
        }
        #expect(handedOut == [1, 3])
        #expect(scheduler.nextPiece(for: 1, now: at(10)) == nil)
    }

    @Test func abandonedDuplicateMakesRoomForAnotherRequester() {
        var scheduler = fourPiecesInFlight()
        for peer in 3...4 { scheduler.addPeer(peer) }
        #expect(scheduler.nextPiece(for: 3, now: at(10))?.piece == 0)
        scheduler.pieceAbandoned(0, by: 1)
        #expect(scheduler.requesters(of: 0) == [3])
        #expect(scheduler.unassignedCount == 0)
        // Piece 0's remaining request started at 10: now it is the newest of all.
        #expect(scheduler.nextPiece(for: 4, now: at(11)) == .init(piece: 1, isDuplicate: true))
        #expect(scheduler.nextPiece(for: 4, now: at(11)) == .init(piece: 2, isDuplicate: true))
        #expect(scheduler.nextPiece(for: 4, now: at(11)) == .init(piece: 3, isDuplicate: true))
        #expect(scheduler.nextPiece(for: 4, now: at(11)) == .init(piece: 0, isDuplicate: true))
        #expect(scheduler.requesters(of: 0) == [3, 4])
    }

    @Test func givenBackPieceLeavesEndgameForNormalMode() {
        var scheduler = fourPiecesInFlight()
        #expect(scheduler.peerFailed(2) == [1, 3])
        #expect(!scheduler.isEndgame)
        #expect(scheduler.unassignedCount == 2)
        scheduler.addPeer(3)
        #expect(scheduler.nextPiece(for: 3, now: at(10)) == .init(piece: 1, isDuplicate: false))
        #expect(scheduler.nextPiece(for: 3, now: at(10)) == .init(piece: 3, isDuplicate: false))
        #expect(scheduler.nextPiece(for: 3, now: at(10)) == .init(piece: 0, isDuplicate: true))
    }
}
