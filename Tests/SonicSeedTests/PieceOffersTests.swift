import SonicCore
@testable import SonicSeed
import Testing

/// Super-seeding's offers, without sockets: each trader is offered pieces nobody else was
/// offered yet, a few at a time; a piece in flight from here to one trader is left to it;
/// a trader alone, or the last one left, is offered everything.
@Suite struct PieceOffersTests {
    func offered(_ offers: [PieceOffers.Offer]) -> [Int] {
        offers.flatMap { offer -> [Int] in
            guard case .pieces(_, let pieces) = offer else { return [] }
            return pieces
        }
    }

    func offered(to connection: UInt64, _ offers: [PieceOffers.Offer]) -> [Int] {
        offered(offers.filter { if case .pieces(connection, _) = $0 { true } else { false } })
    }

    @Test func aTraderAloneIsOfferedEverythingUntilASecondJoins() {
        var offers = PieceOffers(pieceCount: 16, window: 4, seed: 7)
        let (alone, none) = offers.join(1)
        #expect(alone.pieces == Array(0..<16) && none.isEmpty)
        // It fetches two pieces here; then a second trader joins.
        #expect(offers.requested(1, pieces: 0...1).isEmpty, "a trader offered everything gets no offers")
        let (second, others) = offers.join(2)
        guard case .only(connection: 1, let window)? = others.first, others.count == 1 else {
            Issue.record("the first trader was not given a window: \(others)")
            return
        }
        // The first keeps what it is fetching and four new pieces; the two windows are disjoint,
        // and the second is not offered what the first is fetching.
        #expect(window.pieces.count == 6 && window.contains(0) && window.contains(1))
        #expect(second.pieces.count == 4)
        #expect(Set(second.pieces).isDisjoint(with: window.pieces))
        let third = offers.join(3).offered.pieces
        #expect(third.count == 4 && Set(third).isDisjoint(with: second.pieces + window.pieces))
    }

    @Test func aRequestOrAnAcquiredPieceBringsANewOfferNeverARepeat() {
        var offers = PieceOffers(pieceCount: 16, window: 4, seed: 8)
        _ = offers.join(1)
        var seen = Set(offers.join(2).offered.pieces)
        let first = seen.sorted()[0]
        let afterRequest = offered(offers.requested(2, pieces: first...first))
        #expect(afterRequest.count == 1 && seen.isDisjoint(with: afterRequest))
        seen.formUnion(afterRequest)
        // It got another offered piece elsewhere (its HAVE): one more offer.
        let acquired = seen.sorted()[1]
        let afterHave = offered(to: 2, offers.holds(2, pieces: [acquired]))
        #expect(afterHave.count == 1 && seen.isDisjoint(with: afterHave))
        seen.formUnion(afterHave)
        // Requesting an offered piece twice offers nothing new beyond the window.
        #expect(offers.requested(2, pieces: first...first).isEmpty)
        // Everything it may be offered, it holds: no offers are left to make.
        let rest = Set(0..<16).subtracting(seen)
        _ = offers.holds(2, pieces: rest)
        _ = offers.holds(2, pieces: seen)
        #expect(offers.requested(2, pieces: 0...15).isEmpty)
    }

    @Test func everyPieceIsOfferedOnceBeforeAnyIsOfferedTwice() {
        var offers = PieceOffers(pieceCount: 12, window: 2, seed: 9)
        _ = offers.join(1)
        _ = offers.join(2)
        // Trader 1 was downgraded to a window when 2 joined; 3 and 4 join after.
        var offeredTo: [Int: [Int]] = [2: offers.join(3).offered.pieces, 3: offers.join(4).offered.pieces]
        offeredTo[4] = offers.join(5).offered.pieces
        for round in 0..<2 {
            for trader in [2, 3, 4] {
                let piece = offeredTo[trader]![round]
                offeredTo[trader]! += offered(offers.requested(UInt64(trader + 1), pieces: piece...piece))
            }
        }
        let all = offeredTo.values.flatMap { $0 }
        #expect(Set(all).count == all.count, "a piece was offered twice before every piece was offered: \(offeredTo)")
    }

    @Test func aPieceInFlightOrHeldElsewhereIsNeverOfferedAgain() {
        // Two pieces, two traders: the second can only wait for what the first fetches.
        var offers = PieceOffers(pieceCount: 2, window: 2, seed: 11)
        _ = offers.join(1)
        _ = offers.requested(1, pieces: 0...1)
        let (second, others) = offers.join(2)
        #expect(second.pieces.isEmpty, "both pieces are in flight to trader 1")
        #expect(others == [.only(connection: 1, PieceBitfield(pieceCount: 2, pieces: [0, 1]))])
        // Trader 1 holds piece 0 now: trader 2 gets it from trader 1, not from here.
        #expect(offered(to: 2, offers.holds(1, pieces: [0])).isEmpty)
        #expect(offered(to: 2, offers.holds(2, pieces: [])).isEmpty)
        // Trader 1 leaves before piece 1 arrives: trader 2, the last one left, is offered
        // everything.
        #expect(offers.leave(1) == [.only(connection: 2, PieceBitfield(pieceCount: 2, pieces: [0, 1]))])
    }

    @Test func aTraderThatLeavesFreesThePiecesItWasFetching() {
        var offers = PieceOffers(pieceCount: 3, window: 3, seed: 12)
        _ = offers.join(1)
        _ = offers.requested(1, pieces: 0...2)
        // Trader 1 fetches every piece here: the others are offered nothing.
        #expect(offers.join(2).offered.pieces.isEmpty)
        #expect(offers.join(3).offered.pieces.isEmpty)
        // Trader 1 leaves: its pieces are free again and go to one waiting trader, once.
        let freed = offers.leave(1)
        #expect(offered(freed).sorted() == [0, 1, 2], "\(freed)")
        #expect(freed.count == 1)
    }

    @Test func askingForTheManifestAgainChangesNothing() {
        var offers = PieceOffers(pieceCount: 4, window: 2, seed: 13)
        _ = offers.join(1)
        let (window, _) = offers.join(2)
        let (again, others) = offers.join(2)
        #expect(again == window && others.isEmpty)
        // Trader 1 leaves: trader 2, alone, is offered everything; a new trader 3 then shares the
        // pieces with it, every piece free again (nothing was counted twice).
        _ = offers.leave(1)
        let (third, downgrade) = offers.join(3)
        guard case .only(connection: 2, let second)? = downgrade.first else {
            Issue.record("trader 2 was not given a window: \(downgrade)")
            return
        }
        #expect(Set(third.pieces).union(second.pieces) == Set(0..<4))
    }

    @Test func theLastTraderLeftIsOfferedEverything() {
        var offers = PieceOffers(pieceCount: 8, window: 2, seed: 10)
        _ = offers.join(1)
        _ = offers.join(2)
        _ = offers.join(3)
        let afterFirst = offers.leave(1)
        #expect(!afterFirst.contains { if case .only = $0 { true } else { false } }, "two windowed traders are left")
        #expect(offers.leave(2).contains(.only(connection: 3, PieceBitfield(pieceCount: 8, pieces: 0..<8))))
        #expect(offers.requested(3, pieces: 0...0).isEmpty)
        _ = offers.leave(3)
        #expect(offers.isEmpty)
    }
}
