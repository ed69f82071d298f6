import SonicCore

/// Super-seeding (docs/PROTOCOL.md, "Super-seeding"): which pieces of one content a complete
/// holder offers each downloader that trades pieces, while several of them fetch it at once.
///
/// Each trader is offered a few pieces at a time (its BITFIELD, then a HAVE per new offer)
/// taken in turn from one shared order, so the holder's upload goes to pieces it has not sent
/// anyone yet and the downloaders trade the rest among themselves: in a flash crowd the holder
/// sends about one copy. A trader is offered another piece whenever it requests or acquires an
/// offered one (it tells the holder what it acquires elsewhere with HAVE). A trader alone is
/// offered everything, and so is the last one left: nothing then waits on offers. A pure value.
struct PieceOffers: Sendable {
    /// What to send a trader: a HAVE per piece, or a BITFIELD of every piece.
    enum Offer: Equatable, Sendable {
        case pieces(connection: UInt64, [Int])
        case everything(connection: UInt64, pieceCount: Int)
    }

    private struct Trader: Sendable {
        var offered: PieceBitfield
        var held: PieceBitfield
        /// Offered and neither requested nor acquired yet.
        var outstanding: Set<Int> = []
        var everything: Bool
    }

    let pieceCount: Int
    /// Pieces a trader has on offer at once.
    let window: Int
    /// The shared order pieces are offered in, a pseudo-random permutation.
    private let order: [Int]
    private var cursor = 0
    private var traders: [UInt64: Trader] = [:]

    init(pieceCount: Int, window: Int, seed: UInt64) {
        self.pieceCount = pieceCount
        self.window = window
        var generator = SplitMix(seed: seed)
        order = Array(0..<pieceCount).shuffled(using: &generator)
    }

    var isEmpty: Bool { traders.isEmpty }

    /// A trader asked for the manifest: the pieces its BITFIELD offers.
    mutating func join(_ connection: UInt64) -> PieceBitfield {
        let alone = traders.isEmpty
        let none = PieceBitfield(pieceCount: pieceCount)
        traders[connection] = Trader(offered: none, held: none, everything: alone)
        if alone {
            traders[connection]?.offered = PieceBitfield(pieceCount: pieceCount, pieces: 0..<pieceCount)
        } else {
            refill(connection)
        }
        return traders[connection]!.offered
    }

    /// The trader requested `pieces`; returns the new offers.
    mutating func requested(_ connection: UInt64, pieces: ClosedRange<Int>) -> Offer? {
        guard traders[connection] != nil else { return nil }
        for piece in pieces { traders[connection]!.outstanding.remove(piece) }
        return refill(connection)
    }

    /// The trader holds `pieces` now (its BITFIELD or a HAVE); returns the new offers.
    mutating func holds(_ connection: UInt64, pieces: some Sequence<Int>) -> Offer? {
        guard traders[connection] != nil else { return nil }
        for piece in pieces where (0..<pieceCount).contains(piece) {
            _ = traders[connection]!.held.insert(piece)
            traders[connection]!.outstanding.remove(piece)
        }
        return refill(connection)
    }

    /// The trader's connection ended. If one trader is left with offers only, it is offered
    /// everything now.
    mutating func leave(_ connection: UInt64) -> Offer? {
        traders[connection] = nil
        guard traders.count == 1, let (last, trader) = traders.first, !trader.everything else { return nil }
        traders[last]?.everything = true
        traders[last]?.offered = PieceBitfield(pieceCount: pieceCount, pieces: 0..<pieceCount)
        return .everything(connection: last, pieceCount: pieceCount)
    }

    /// Offers pieces until the trader has ``window`` outstanding: the next ones in the shared
    /// order that it was not offered and does not hold.
    @discardableResult
    private mutating func refill(_ connection: UInt64) -> Offer? {
        guard var trader = traders[connection], !trader.everything else { return nil }
        var offers: [Int] = []
        var scanned = 0
        while trader.outstanding.count < window && scanned < pieceCount {
            let piece = order[cursor]
            cursor = (cursor + 1) % pieceCount
            scanned += 1
            guard !trader.offered.contains(piece), !trader.held.contains(piece) else { continue }
            _ = trader.offered.insert(piece)
            trader.outstanding.insert(piece)
            offers.append(piece)
        }
        traders[connection] = trader
        return offers.isEmpty ? nil : .pieces(connection: connection, offers)
    }
}

/// A small seeded generator (SplitMix64): the same seed gives the same order.
struct SplitMix: RandomNumberGenerator, Sendable {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
