import SonicCore
@testable import SonicSwarm
import Testing

/// The tail rules with virtual numbers: no sockets, no clock.
@Suite("TailPolicy")
struct TailPolicyTests {
    static let MiB = 1_048_576.0

    @Test func aSlowPeerStopsTakingPiecesNearTheEndButNotBefore() {
        let fast = (rate: Optional(20 * Self.MiB), queuedBytes: 0.0)
        let others = Array(repeating: fast, count: 7)
        // 200 pieces left: the fast peers need more than a second for them; a 1 MiB/s peer
        // finishes one in a second, so it helps.
        #expect(TailPolicy.shouldStart(pieceBytes: Self.MiB, queuedBytes: 0, rate: Self.MiB, others: others,
                                       unassignedPieces: 200))
        // 20 pieces left: the fast peers finish them in 0.15 s; the slow one would take 1 s.
        #expect(!TailPolicy.shouldStart(pieceBytes: Self.MiB, queuedBytes: 0, rate: Self.MiB, others: others,
                                        unassignedPieces: 20))
    }

    @Test func equalIdlePeersAlwaysStartAndTheEarliestFinisherIsNeverRefused() {
        let same = Array(repeating: (rate: Optional(20 * Self.MiB), queuedBytes: 0.0), count: 7)
        #expect(TailPolicy.shouldStart(pieceBytes: Self.MiB, queuedBytes: 0, rate: 20 * Self.MiB, others: same,
                                       unassignedPieces: 1))
        // A busy peer leaves the last piece to an idle one of the same speed...
        #expect(!TailPolicy.shouldStart(pieceBytes: Self.MiB, queuedBytes: 2 * Self.MiB, rate: 20 * Self.MiB,
                                        others: same, unassignedPieces: 1))
        // ...but not when every other peer is as busy.
        let busy = Array(repeating: (rate: Optional(20 * Self.MiB), queuedBytes: 2 * Self.MiB), count: 7)
        #expect(TailPolicy.shouldStart(pieceBytes: Self.MiB, queuedBytes: 2 * Self.MiB, rate: 20 * Self.MiB,
                                       others: busy, unassignedPieces: 1))
    }

    @Test func unknownRatesNeverHoldWorkBack() {
        #expect(TailPolicy.shouldStart(pieceBytes: Self.MiB, queuedBytes: 0, rate: nil,
                                       others: [(20 * Self.MiB, 0)], unassignedPieces: 1))
        #expect(TailPolicy.shouldStart(pieceBytes: Self.MiB, queuedBytes: 0, rate: Self.MiB,
                                       others: [(nil, 0), (nil, 0)], unassignedPieces: 1))
    }

    /// Simulated end of a download: whichever peer asks, some peer always takes each of the
    /// remaining pieces (no deadlock), and the slow one takes none of them.
    @Test func theRemainingPiecesAlwaysFindATakerAndNeverTheSlowPeer() {
        var queued = Array(repeating: 0.0, count: 8)
        let rates = Array(repeating: 20 * Self.MiB, count: 7) + [Self.MiB]
        var unassigned = 12
        var takenBySlow = 0
        var rounds = 0
        while unassigned > 0 && rounds < 1000 {
            rounds += 1
            var taken = false
            for peer in 0..<8 where unassigned > 0 {
                let others = (0..<8).filter { $0 != peer }.map { (rate: Optional(rates[$0]), queuedBytes: queued[$0]) }
                if TailPolicy.shouldStart(pieceBytes: Self.MiB, queuedBytes: queued[peer], rate: rates[peer],
                                          others: others, unassignedPieces: unassigned) {
                    queued[peer] += Self.MiB
                    unassigned -= 1
                    taken = true
                    if peer == 7 { takenBySlow += 1 }
                }
            }
            #expect(taken, "nobody took a piece with \(unassigned) left")
            if !taken { break }
            // 50 ms pass: every peer delivers what its rate allows.
            for peer in 0..<8 { queued[peer] = max(0, queued[peer] - rates[peer] * 0.05) }
        }
        #expect(unassigned == 0)
        #expect(takenBySlow == 0)
    }

    @Test func anIdlePeerCopiesOnlyWhatItDeliversClearlySooner() {
        #expect(TailPolicy.shouldDuplicate(pieceBytes: Self.MiB, rate: 20 * Self.MiB, holderSeconds: 0.8))
        #expect(!TailPolicy.shouldDuplicate(pieceBytes: Self.MiB, rate: 20 * Self.MiB, holderSeconds: 0.06))
    }

    @Test func ratesFollowDeliveriesInWindows() {
        let start = ContinuousClock.now
        var rates = PeerRates()
        #expect(rates.rate(of: 1) == nil)
        // 256 KiB every 12.5 ms is 20 MiB/s.
        for i in 0...40 {
            rates.record(256 * 1024, from: 1, at: start + .microseconds(12_500 * i))
        }
        let rate = rates.rate(of: 1) ?? 0
        #expect(abs(rate / (20 * Self.MiB) - 1) < 0.1, "\(rate)")
        rates.forget(1)
        #expect(rates.rate(of: 1) == nil)
    }
}

@Suite("PieceScheduler: explicit duplicates")
struct PieceSchedulerDuplicateTests {
    @Test func aChosenPieceIsDuplicatedOnceAndTheFirstCopyWins() {
        let t = ContinuousClock.now
        var scheduler = PieceScheduler(pieceCount: 2)
        for peer in 1...3 { scheduler.addPeer(peer) }
        #expect(scheduler.nextPiece(for: 1, now: t)?.piece == 0)
        #expect(scheduler.nextPiece(for: 2, now: t)?.piece == 1)
        #expect(scheduler.duplicateCandidates(for: 3).map(\.piece).sorted() == [0, 1])
        #expect(scheduler.duplicate(0, for: 3, now: t) == .init(piece: 0, isDuplicate: true))
        #expect(scheduler.duplicate(0, for: 2, now: t) == nil, "at most two requesters")
        #expect(scheduler.duplicate(1, for: 2, now: t) == nil, "not its own piece again")
        #expect(scheduler.duplicateCandidates(for: 3).map(\.piece) == [1])
        #expect(scheduler.pieceVerified(0, by: 3) == [1], "the slower copy is cancelled")
        #expect(scheduler.duplicate(0, for: 2, now: t) == nil, "a verified piece is never copied")
    }
}
