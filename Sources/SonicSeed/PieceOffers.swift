import SonicCore

/// Super-seeding (docs/PROTOCOL.md, "Trading downloaders and super-seeding"): which pieces
/// of one content a complete holder offers each downloader that trades pieces, while several
/// of them fetch it at once.
///
/// Each trader is offered a few pieces at a time (its BITFIELD, then a HAVE per new offer),
/// and only pieces that no trader holds, fetches from here or has on offer: each piece goes
/// out from here once, and the downloaders trade it on (they tell each other, and us, what
/// they hold with HAVE). Among those, the ones requested here the fewest times go first,
/// ties in a pseudo-random order. A trader is offered another piece whenever it requests or
/// acquires an offered one. A trader that leaves frees what it was fetching and had on offer
/// for the others. A trader alone is offered everything, until a second one joins (then a
/// BITFIELD of a few pieces replaces it); so is the last one left: nothing then waits on
/// offers. A pure value.
///
/// Measured (docs/PERFORMANCE.md, "Flash crowd"): offering a piece again once someone held
/// it, or while it was in flight, made every waiting downloader fetch the last pieces from
/// here at once (8 copies of the last piece at K = 8).
struct PieceOffers: Sendable {
    /// What to send a trader: a HAVE per piece, or a BITFIELD that replaces its offers.
    enum Offer: Equatable, Sendable {
        case pieces(connection: UInt64, [Int])
        case only(connection: UInt64, PieceBitfield)
    }

    private struct Trader: Sendable {
        var offered: PieceBitfield
        var held: PieceBitfield
        /// Offered and neither requested nor acquired yet.
        var outstanding: Set<Int> = []
        /// Requested here and not held yet.
        var fetching: Set<Int> = []
        var everything: Bool
    }

    let pieceCount: Int
    /// Pieces a trader has on offer at once.
    let window: Int
    /// Each piece's place in the shared order that breaks ties (a pseudo-random permutation).
    private let rank: [Int]
    /// How far each piece has spread: traders holding it, requests for it here, and
    /// traders it is on offer to.
    private var holders: [Int]
    private var requests: [Int]
    private var onOffer: [Int]
    /// Traders fetching each piece from here that do not hold it yet.
    private var fetchers: [Int]
    private var traders: [UInt64: Trader] = [:]

    init(pieceCount: Int, window: Int, seed: UInt64) {
        self.pieceCount = pieceCount
        self.window = window
        var generator = SplitMix(seed: seed)
        var rank = [Int](repeating: 0, count: pieceCount)
        for (place, piece) in Array(0..<pieceCount).shuffled(using: &generator).enumerated() { rank[piece] = place }
        self.rank = rank
        holders = [Int](repeating: 0, count: pieceCount)
        requests = holders
        onOffer = holders
        fetchers = holders
    }

    var isEmpty: Bool { traders.isEmpty }

    private var all: PieceBitfield { PieceBitfield(pieceCount: pieceCount, pieces: 0..<pieceCount) }

    /// A trader asked for the manifest: the pieces its BITFIELD offers, and the new offers
    /// of a trader that was alone until now.
    mutating func join(_ connection: UInt64) -> (offered: PieceBitfield, others: [Offer]) {
        // Asking for the manifest again changes nothing (its pieces must not be counted twice).
        if let joined = traders[connection] { return (joined.offered, []) }
        let none = PieceBitfield(pieceCount: pieceCount)
        guard !traders.isEmpty else {
            let everything = all
            traders[connection] = Trader(offered: everything, held: none, everything: true)
            return (everything, [])
        }
        // Only a trader that was alone until now is offered everything.
        let wasAlone = traders.count == 1 ? traders.first.flatMap { $0.value.everything ? $0 : nil } : nil
        traders[connection] = Trader(offered: none, held: none, everything: false)
        refill(connection)
        guard let (other, trader) = wasAlone else { return (traders[connection]!.offered, []) }
        // It is offered a few pieces now, like everyone else.
        traders[other]!.everything = false
        traders[other]!.offered = PieceBitfield(pieceCount: pieceCount, pieces: trader.held.pieces + trader.fetching)
        refill(other)
        // What it may still fetch here: its new offers and the pieces it is fetching.
        let offered = traders[other]!.outstanding.union(trader.fetching)
        return (traders[connection]!.offered, [.only(connection: other, PieceBitfield(pieceCount: pieceCount, pieces: offered))])
    }

    /// The trader requested `pieces`; returns the new offers.
    mutating func requested(_ connection: UInt64, pieces: ClosedRange<Int>) -> [Offer] {
        guard traders[connection] != nil else { return [] }
        for piece in pieces where (0..<pieceCount).contains(piece) {
            requests[piece] += 1
            settle(piece, of: connection)
            if !traders[connection]!.held.contains(piece), traders[connection]!.fetching.insert(piece).inserted {
                fetchers[piece] += 1
            }
        }
        return refill(connection).map { [$0] } ?? []
    }

    /// The trader holds `pieces` now (its BITFIELD or a HAVE); returns the new offers.
    mutating func holds(_ connection: UInt64, pieces: some Sequence<Int>) -> [Offer] {
        guard traders[connection] != nil else { return [] }
        for piece in pieces where (0..<pieceCount).contains(piece) {
            if traders[connection]!.held.insert(piece) { holders[piece] += 1 }
            settle(piece, of: connection)
            if traders[connection]!.fetching.remove(piece) != nil { fetchers[piece] -= 1 }
        }
        return refill(connection).map { [$0] } ?? []
    }

    /// The trader's connection ended: the last one left is offered everything; otherwise the
    /// pieces it was fetching here free up for the others.
    mutating func leave(_ connection: UInt64) -> [Offer] {
        guard let gone = traders.removeValue(forKey: connection) else { return [] }
        for piece in gone.held.pieces { holders[piece] -= 1 }
        for piece in gone.outstanding { onOffer[piece] -= 1 }
        for piece in gone.fetching { fetchers[piece] -= 1 }
        guard traders.count == 1, let (last, trader) = traders.first else { return refillWaiting(except: connection) }
        guard !trader.everything else { return [] }
        for piece in trader.outstanding { onOffer[piece] -= 1 }
        traders[last]?.outstanding = []
        traders[last]?.everything = true
        let everything = all
        traders[last]?.offered = everything
        return [.only(connection: last, everything)]
    }

    /// `piece` is no longer outstanding for the trader (requested or acquired).
    private mutating func settle(_ piece: Int, of connection: UInt64) {
        if traders[connection]!.outstanding.remove(piece) != nil { onOffer[piece] -= 1 }
    }

    /// Whether `piece` may be offered: only if no trader holds it, fetches it from here or
    /// has it on offer.
    private func isFree(_ piece: Int) -> Bool {
        holders[piece] == 0 && fetchers[piece] == 0 && onOffer[piece] == 0
    }

    /// Refills every other trader with room in its window (it found nothing free last time).
    private mutating func refillWaiting(except connection: UInt64) -> [Offer] {
        let waiting = traders.filter { $0.key != connection && !$0.value.everything && $0.value.outstanding.count < window }
        return waiting.keys.sorted().compactMap { refill($0) }
    }

    /// Offers pieces until the trader has ``window`` outstanding: each time the free piece it
    /// was not offered, requested here the fewest times. (A scan of every piece per offer:
    /// offers follow requests, a piece at a time.)
    @discardableResult
    private mutating func refill(_ connection: UInt64) -> Offer? {
        guard var trader = traders[connection], !trader.everything else { return nil }
        var offers: [Int] = []
        while trader.outstanding.count < window {
            var best: Int?
            var bestKey = (Int.max, Int.max)
            for piece in 0..<pieceCount where !trader.offered.contains(piece) && !trader.held.contains(piece) && isFree(piece) {
                let key = (requests[piece], rank[piece])
                if key < bestKey { (best, bestKey) = (piece, key) }
            }
            guard let piece = best else { break }
            _ = trader.offered.insert(piece)
            trader.outstanding.insert(piece)
            onOffer[piece] += 1
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
