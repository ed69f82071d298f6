import SonicCore
@testable import SonicSeed
import Testing

/// Super-seeding's offers, without sockets: each trader is offered pieces nobody else was
/// offered yet, a few at a time, and everything once it is alone.
@Suite struct PieceOffersTests {
    func offered(_ offer: PieceOffers.Offer?) -> [Int] {
        guard case .pieces(_, let pieces)? = offer else { return [] }
        return pieces
    }

    @Test func aTraderAloneIsOfferedEverythingAndOthersDistinctWindows() {
        var offers = PieceOffers(pieceCount: 16, window: 4, seed: 7)
        #expect(offers.join(1).pieces == Array(0..<16))
        let second = offers.join(2).pieces
        let third = offers.join(3).pieces
        #expect(second.count == 4 && third.count == 4)
        #expect(Set(second).isDisjoint(with: third))
    }

    @Test func aRequestOrAnAcquiredPieceBringsANewOfferNeverARepeat() {
        var offers = PieceOffers(pieceCount: 16, window: 4, seed: 8)
        _ = offers.join(1)
        var seen = Set(offers.join(2).pieces)
        let first = seen.sorted()[0]
        let afterRequest = offered(offers.requested(2, pieces: first...first))
        #expect(afterRequest.count == 1 && seen.isDisjoint(with: afterRequest))
        seen.formUnion(afterRequest)
        // It got another offered piece elsewhere (its HAVE): one more offer.
        let acquired = seen.sorted()[1]
        let afterHave = offered(offers.holds(2, pieces: [acquired]))
        #expect(afterHave.count == 1 && seen.isDisjoint(with: afterHave))
        seen.formUnion(afterHave)
        // Requesting an offered piece twice, or holding a piece never offered, offers nothing new
        // beyond the window.
        #expect(offers.requested(2, pieces: first...first) == nil)
        // Everything it may be offered, it holds: no offers are left to make.
        let rest = Set(0..<16).subtracting(seen)
        _ = offers.holds(2, pieces: rest)
        _ = offers.holds(2, pieces: seen)
        #expect(offers.requested(2, pieces: 0...15) == nil)
    }

    @Test func everyPieceIsOfferedOnceBeforeAnyIsOfferedTwice() {
        var offers = PieceOffers(pieceCount: 12, window: 2, seed: 9)
        _ = offers.join(1)
        var offeredTo: [Int: [Int]] = [2: offers.join(2).pieces, 3: offers.join(3).pieces, 4: offers.join(4).pieces]
        // Three windows of two; each request brings the next piece of the shared order.
        for round in 0..<2 {
            for trader in [2, 3, 4] {
                let piece = offeredTo[trader]![round]
                offeredTo[trader]! += offered(offers.requested(UInt64(trader), pieces: piece...piece))
            }
        }
        let all = offeredTo.values.flatMap { $0 }
        #expect(all.count == 12)
        #expect(Set(all).count == 12, "a piece was offered twice before every piece was offered: \(offeredTo)")
    }

    @Test func theLastTraderLeftIsOfferedEverything() {
        var offers = PieceOffers(pieceCount: 8, window: 2, seed: 10)
        _ = offers.join(1)
        _ = offers.join(2)
        _ = offers.join(3)
        #expect(offers.leave(1) == nil, "two windowed traders are left")
        #expect(offers.leave(2) == .everything(connection: 3, pieceCount: 8))
        #expect(offers.requested(3, pieces: 0...0) == nil)
        _ = offers.leave(3)
        #expect(offers.isEmpty)
    }
}
