import SonicCore
import SonicSwarm
import Testing

/// A fixed origin for test time; the scheduler only compares instants, never reads the clock.
let origin = ContinuousClock.now

func at(_ seconds: Int) -> ContinuousClock.Instant {
    origin + .seconds(seconds)
}

@Suite("PieceScheduler: normal mode, resume, completion")
struct PieceSchedulerTests {
    @Test func handsOutLowestFirstWithoutDuplicates() {
        var scheduler = PieceScheduler(pieceCount: 12)
        for peer in 1...3 { scheduler.addPeer(peer) }
        var handedOut: [Int] = []
        for round in 0..<4 {
            for peer in 1...3 {
                let assignment = scheduler.nextPiece(for: peer, now: at(round))
                #expect(assignment?.isDuplicate == false)
                handedOut.append(try! #require(assignment).piece)
            }
        }
        #expect(handedOut == Array(0..<12))
        #expect(scheduler.unassignedCount == 0)
        #expect(scheduler.isEndgame)
        #expect(scheduler.inFlight(for: 1) == [0, 3, 6, 9])
        #expect(scheduler.requesters(of: 4) == [2])
    }

    @Test func piecesFromTheEndMeetThoseFromTheStartAndGivenBackOnesReturn() {
        var scheduler = PieceScheduler(pieceCount: 6)
        scheduler.addPeer(1)
        let fromTheEnd = (0..<2).map { _ in scheduler.nextPiece(for: 1, now: at(0), fromTheEnd: true)?.piece }
        #expect(fromTheEnd == [5, 4])
        let fromTheStart = (0..<2).map { _ in scheduler.nextPiece(for: 1, now: at(0))?.piece }
        #expect(fromTheStart == [0, 1])
        // Piece 5 comes back; the two ends meet in the middle, then the given-back piece.
        scheduler.pieceAbandoned(5, by: 1)
        let rest = (0..<3).map { _ in scheduler.nextPiece(for: 1, now: at(1), allowDuplicate: false, fromTheEnd: true)?.piece }
        #expect(rest == [3, 2, 5])
        #expect(scheduler.unassignedCount == 0)
    }

    @Test func givenBackPiecesAreServedLowestFirst() {
        var scheduler = PieceScheduler(pieceCount: 10)
        scheduler.addPeer(1)
        scheduler.addPeer(2)
        for piece in 0..<6 {
            #expect(scheduler.nextPiece(for: 1, now: at(0))?.piece == piece)
        }
        scheduler.pieceAbandoned(4, by: 1)
        scheduler.pieceAbandoned(1, by: 1)
        scheduler.pieceAbandoned(1, by: 1)  // already given back: no effect
        #expect(scheduler.unassignedCount == 6)
        #expect(scheduler.nextPiece(for: 2, now: at(1)) == .init(piece: 1, isDuplicate: false))
        #expect(scheduler.nextPiece(for: 2, now: at(1)) == .init(piece: 4, isDuplicate: false))
        #expect(scheduler.nextPiece(for: 2, now: at(1)) == .init(piece: 6, isDuplicate: false))
        #expect(scheduler.inFlight(for: 1) == [0, 2, 3, 5])
        #expect(scheduler.inFlight(for: 2) == [1, 4, 6])
    }

    @Test func unknownPeerGetsNothing() {
        var scheduler = PieceScheduler(pieceCount: 4)
        #expect(scheduler.nextPiece(for: 7, now: at(0)) == nil)
        #expect(scheduler.unassignedCount == 4)
        #expect(scheduler.peerFailed(7) == [])
        #expect(!scheduler.isActive(7))
    }

    @Test func verifiedPieceIsNeverRequestedAgain() {
        var scheduler = PieceScheduler(pieceCount: 3)
        scheduler.addPeer(1)
        scheduler.addPeer(2)
        #expect(scheduler.nextPiece(for: 1, now: at(0))?.piece == 0)
        #expect(scheduler.pieceVerified(0, by: 1) == [])
        #expect(scheduler.isVerified(0))
        #expect(scheduler.inFlight(for: 1) == [])
        // A late abandon or a second verification of the same piece changes nothing.
        scheduler.pieceAbandoned(0, by: 1)
        #expect(scheduler.pieceVerified(0, by: 2) == [])
        #expect(scheduler.verifiedCount == 1)
        #expect(scheduler.verifiedPieces(by: 1) == 1)
        #expect(scheduler.verifiedPieces(by: 2) == 0)

        var handedOut: [Int] = []
        for step in 1...10 {
            for peer in 1...2 {
                if let assignment = scheduler.nextPiece(for: peer, now: at(step)) {
                    handedOut.append(assignment.piece)
                }
            }
        }
        // 1 and 2 once each in normal mode, then once more each as endgame duplicates.
        #expect(!handedOut.contains(0))
        #expect(handedOut.sorted() == [1, 1, 2, 2])
    }

    @Test func dataThatRacedItsCancellationStillVerifies() {
        var scheduler = PieceScheduler(pieceCount: 3)
        scheduler.addPeer(1)
        scheduler.addPeer(2)
        #expect(scheduler.nextPiece(for: 1, now: at(0))?.piece == 0)
        #expect(scheduler.nextPiece(for: 1, now: at(0))?.piece == 1)
        scheduler.pieceAbandoned(0, by: 1)
        // The data for piece 0 arrives anyway and its hash matches.
        #expect(scheduler.pieceVerified(0, by: 1) == [])
        #expect(scheduler.unassignedCount == 1)
        #expect(scheduler.nextPiece(for: 2, now: at(1)) == .init(piece: 2, isDuplicate: false))
        #expect(scheduler.nextPiece(for: 2, now: at(1)) == .init(piece: 1, isDuplicate: true))
        #expect(scheduler.nextPiece(for: 2, now: at(1)) == nil)
    }

    @Test func alreadyVerifiedPiecesAreNeverHandedOutAndCountTowardsCompletion() {
        var scheduler = PieceScheduler(pieceCount: 6, alreadyVerified: [0, 2, 5, 2])
        #expect(scheduler.verifiedCount == 3)
        #expect(scheduler.unassignedCount == 3)
        #expect(scheduler.missingPieces == [1, 3, 4])
        #expect(scheduler.verifiedBitfield.bytes == [0b1010_0100])
        #expect(!scheduler.isComplete)
        scheduler.addPeer(1)
        scheduler.addPeer(2)

        var handedOut: [PieceScheduler.Assignment] = []
        for step in 0..<5 {
            for peer in 1...2 {
                if let assignment = scheduler.nextPiece(for: peer, now: at(step)) {
                    handedOut.append(assignment)
                }
            }
        }
        // Normal mode gives 1, 3, 4 once; endgame then duplicates each at most once.
        #expect(handedOut.filter { !$0.isDuplicate }.map(\.piece) == [1, 3, 4])
        #expect(handedOut.allSatisfy { [1, 3, 4].contains($0.piece) })
        #expect(handedOut.count == 6)

        for piece in [1, 3, 4] {
            #expect(scheduler.pieceVerified(piece, by: scheduler.requesters(of: piece)[0]).count == 1)
        }
        #expect(scheduler.isComplete)
        #expect(scheduler.verifiedCount == 6)
        #expect(scheduler.verifiedPieces(by: 1) + scheduler.verifiedPieces(by: 2) == 3)
        #expect(scheduler.nextPiece(for: 1, now: at(9)) == nil)
    }

    @Test func resumeWithEverythingVerifiedIsComplete() {
        var scheduler = PieceScheduler(pieceCount: 4, alreadyVerified: 0..<4)
        scheduler.addPeer(1)
        #expect(scheduler.isComplete)
        #expect(!scheduler.isEndgame)
        #expect(scheduler.nextPiece(for: 1, now: at(0)) == nil)
    }

    @Test func emptyFileIsCompleteAtOnce() {
        var scheduler = PieceScheduler(pieceCount: 0)
        scheduler.addPeer(1)
        #expect(scheduler.isComplete)
        #expect(!scheduler.isEndgame)
        #expect(scheduler.verifiedCount == 0)
        #expect(scheduler.missingPieces == [])
        #expect(scheduler.verifiedBitfield.bytes == [])
        #expect(scheduler.nextPiece(for: 1, now: at(0)) == nil)
    }

    @Test func singlePieceFile() {
        var scheduler = PieceScheduler(pieceCount: 1)
        scheduler.addPeer(1)
        scheduler.addPeer(2)
        #expect(scheduler.nextPiece(for: 1, now: at(0)) == .init(piece: 0, isDuplicate: false))
        #expect(scheduler.nextPiece(for: 2, now: at(1)) == .init(piece: 0, isDuplicate: true))
        #expect(scheduler.nextPiece(for: 1, now: at(1)) == nil)
        #expect(!scheduler.isComplete)
        #expect(scheduler.pieceVerified(0, by: 2) == [1])
        #expect(scheduler.isComplete)
        #expect(scheduler.verifiedPieces(by: 2) == 1)
        #expect(scheduler.inFlight(for: 1) == [])
        #expect(scheduler.nextPiece(for: 1, now: at(2)) == nil)
        #expect(scheduler.nextPiece(for: 2, now: at(2)) == nil)
    }

    @Test func bitfieldRoundTrips() {
        var scheduler = PieceScheduler(pieceCount: 11, alreadyVerified: [0, 7, 8, 10])
        #expect(scheduler.verifiedBitfield.bytes == [0b1000_0001, 0b1010_0000])
        scheduler.addPeer(1)
        let piece = scheduler.nextPiece(for: 1, now: at(0))!.piece
        scheduler.pieceVerified(piece, by: 1)
        let bitfield = scheduler.verifiedBitfield
        let restored = PieceBitfield(bytes: bitfield.bytes, pieceCount: 11)?.pieces
        #expect(restored == [0, 1, 7, 8, 10])
        #expect(PieceScheduler(pieceCount: 11, alreadyVerified: restored!).verifiedBitfield == bitfield)
    }

    @Test func bitfieldThatDoesNotFitIsRejected() {
        #expect(PieceBitfield(bytes: [0xFF], pieceCount: 9) == nil)
        #expect(PieceBitfield(bytes: [0xFF, 0x80, 0], pieceCount: 9) == nil)
        #expect(PieceBitfield(bytes: [0xFF, 0x40], pieceCount: 9) == nil)
        #expect(PieceBitfield(bytes: [0xFF, 0x80], pieceCount: 9)?.pieces == Array(0..<9))
        #expect(PieceBitfield(bytes: [], pieceCount: 0)?.pieces == [])
        #expect(PieceBitfield(bytes: [0xFF, 0x80], pieceCount: 9)?.contains(8) == true)
        #expect(PieceBitfield(bytes: [0xFF, 0x80], pieceCount: 9)?.contains(9) == false)
    }
}
