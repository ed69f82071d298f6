import SonicSwarm
import Testing

@Suite("PieceScheduler: failed and banned peers")
struct PieceSchedulerFailureTests {
    @Test func failedPeerGivesItsPiecesBackToAnotherPeer() {
        var scheduler = PieceScheduler(pieceCount: 6)
        scheduler.addPeer(1)
        scheduler.addPeer(2)
        for piece in 0..<3 {
            #expect(scheduler.nextPiece(for: 1, now: at(0))?.piece == piece)
        }
        #expect(scheduler.nextPiece(for: 2, now: at(0))?.piece == 3)

        #expect(scheduler.peerFailed(1) == [0, 1, 2])
        #expect(scheduler.inFlight(for: 1) == [])
        #expect(!scheduler.isActive(1))
        #expect(!scheduler.isBanned(1))
        #expect(scheduler.unassignedCount == 5)
        #expect(scheduler.nextPiece(for: 1, now: at(1)) == nil)

        var handedToPeer2: [PieceScheduler.Assignment] = []
        while let assignment = scheduler.nextPiece(for: 2, now: at(1)), !assignment.isDuplicate {
            handedToPeer2.append(assignment)
        }
        #expect(handedToPeer2.map(\.piece) == [0, 1, 2, 4, 5])
        #expect(scheduler.inFlight(for: 2) == Array(0..<6))
        for piece in 0..<6 { scheduler.pieceVerified(piece, by: 2) }
        #expect(scheduler.isComplete)
        #expect(scheduler.verifiedPieces(by: 2) == 6)
    }

    @Test func failedPeerRejoinsWhenAddedAgain() {
        var scheduler = PieceScheduler(pieceCount: 4)
        scheduler.addPeer(1)
        #expect(scheduler.nextPiece(for: 1, now: at(0))?.piece == 0)
        scheduler.pieceVerified(0, by: 1)
        #expect(scheduler.nextPiece(for: 1, now: at(0))?.piece == 1)
        #expect(scheduler.peerFailed(1) == [1])
        #expect(scheduler.peerFailed(1) == [])
        #expect(scheduler.nextPiece(for: 1, now: at(1)) == nil)
        scheduler.addPeer(1)
        #expect(scheduler.isActive(1))
        #expect(scheduler.verifiedPieces(by: 1) == 1)
        #expect(scheduler.nextPiece(for: 1, now: at(2)) == .init(piece: 1, isDuplicate: false))
    }

    @Test func failureOfOneRequesterLeavesThePieceWithTheOther() {
        var scheduler = PieceScheduler(pieceCount: 1)
        scheduler.addPeer(1)
        scheduler.addPeer(2)
        scheduler.addPeer(3)
        #expect(scheduler.nextPiece(for: 1, now: at(0))?.piece == 0)
        #expect(scheduler.nextPiece(for: 2, now: at(1)) == .init(piece: 0, isDuplicate: true))
        #expect(scheduler.nextPiece(for: 3, now: at(1)) == nil)
        #expect(scheduler.peerFailed(1) == [0])
        // Still in flight from peer 2: not missing, but open to one more requester.
        #expect(scheduler.unassignedCount == 0)
        #expect(scheduler.requesters(of: 0) == [2])
        #expect(scheduler.nextPiece(for: 3, now: at(2)) == .init(piece: 0, isDuplicate: true))
        #expect(scheduler.pieceVerified(0, by: 3) == [2])
        #expect(scheduler.isComplete)
    }

    @Test func corruptPieceBansThePeerAndGoesToAnotherPeer() {
        var scheduler = PieceScheduler(pieceCount: 5)
        for peer in 1...2 { scheduler.addPeer(peer) }
        #expect(scheduler.nextPiece(for: 1, now: at(0))?.piece == 0)
        #expect(scheduler.nextPiece(for: 1, now: at(0))?.piece == 1)
        #expect(scheduler.nextPiece(for: 2, now: at(0))?.piece == 2)

        #expect(scheduler.pieceCorrupt(0, from: 1) == [1])
        #expect(scheduler.isBanned(1))
        #expect(!scheduler.isActive(1))
        #expect(scheduler.inFlight(for: 1) == [])
        #expect(scheduler.missingPieces == [0, 1, 2, 3, 4])
        #expect(scheduler.unassignedCount == 4)

        // The corrupt piece and the banned peer's other piece go to peer 2, lowest first.
        #expect(scheduler.nextPiece(for: 2, now: at(1)) == .init(piece: 0, isDuplicate: false))
        #expect(scheduler.nextPiece(for: 2, now: at(1)) == .init(piece: 1, isDuplicate: false))

        // Banned for the rest of the download: in normal mode, after re-adding, after failing,
        // and in endgame.
        #expect(scheduler.nextPiece(for: 1, now: at(2)) == nil)
        scheduler.addPeer(1)
        #expect(scheduler.nextPiece(for: 1, now: at(2)) == nil)
        #expect(scheduler.peerFailed(1) == [])
        #expect(scheduler.isBanned(1))
        #expect(scheduler.nextPiece(for: 2, now: at(3))?.piece == 3)
        #expect(scheduler.nextPiece(for: 2, now: at(3))?.piece == 4)
        #expect(scheduler.isEndgame)
        #expect(scheduler.nextPiece(for: 1, now: at(4)) == nil)

        scheduler.addPeer(3)
        #expect(scheduler.nextPiece(for: 3, now: at(4)) == .init(piece: 2, isDuplicate: true))
        for piece in 0..<5 { scheduler.pieceVerified(piece, by: 2) }
        #expect(scheduler.isComplete)
        #expect(scheduler.verifiedPieces(by: 1) == 0)
    }

    @Test func corruptCopyLeavesThePieceWithItsOtherRequester() {
        var scheduler = PieceScheduler(pieceCount: 2)
        for peer in 1...3 { scheduler.addPeer(peer) }
        #expect(scheduler.nextPiece(for: 1, now: at(0))?.piece == 0)
        #expect(scheduler.nextPiece(for: 1, now: at(0))?.piece == 1)
        #expect(scheduler.nextPiece(for: 2, now: at(1)) == .init(piece: 0, isDuplicate: true))

        #expect(scheduler.pieceCorrupt(0, from: 2) == [])
        #expect(scheduler.isBanned(2))
        #expect(scheduler.requesters(of: 0) == [1])
        #expect(scheduler.unassignedCount == 0)
        // Peer 3 may duplicate piece 0 again (one requester left), never peer 2.
        #expect(scheduler.nextPiece(for: 2, now: at(2)) == nil)
        #expect(scheduler.nextPiece(for: 3, now: at(2)) == .init(piece: 0, isDuplicate: true))
        #expect(scheduler.requesters(of: 0) == [1, 3])
    }

    @Test func corruptLateCopyOfAVerifiedPieceStillBans() {
        var scheduler = PieceScheduler(pieceCount: 2)
        for peer in 1...2 { scheduler.addPeer(peer) }
        #expect(scheduler.nextPiece(for: 1, now: at(0))?.piece == 0)
        #expect(scheduler.nextPiece(for: 2, now: at(0))?.piece == 1)
        #expect(scheduler.pieceVerified(0, by: 1) == [])
        #expect(scheduler.pieceCorrupt(0, from: 2) == [1])
        #expect(scheduler.isVerified(0))
        #expect(scheduler.isBanned(2))
        #expect(scheduler.nextPiece(for: 1, now: at(1)) == .init(piece: 1, isDuplicate: false))
    }

    @Test func unknownPeerReportedCorruptIsBanned() {
        var scheduler = PieceScheduler(pieceCount: 2)
        #expect(scheduler.pieceCorrupt(1, from: 9) == [])
        scheduler.addPeer(9)
        #expect(scheduler.isBanned(9))
        #expect(scheduler.nextPiece(for: 9, now: at(0)) == nil)
        #expect(scheduler.unassignedCount == 2)
    }

    @Test func stalledPeerIsFoundByItsOldestRequest() {
        var scheduler = PieceScheduler(pieceCount: 4)
        for peer in 1...2 { scheduler.addPeer(peer) }
        #expect(scheduler.oldestRequestStart(for: 1) == nil)
        #expect(scheduler.nextPiece(for: 1, now: at(3))?.piece == 0)
        #expect(scheduler.nextPiece(for: 1, now: at(5))?.piece == 1)
        #expect(scheduler.nextPiece(for: 2, now: at(4))?.piece == 2)
        #expect(scheduler.oldestRequestStart(for: 1) == at(3))
        scheduler.pieceVerified(0, by: 1)
        #expect(scheduler.oldestRequestStart(for: 1) == at(5))
        #expect(scheduler.oldestRequestStart(for: 2) == at(4))
    }
}
