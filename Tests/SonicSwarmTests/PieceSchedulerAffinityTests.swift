import SonicCore
@testable import SonicSwarm
import Testing

/// Piece homes (PieceScheduler+Affinity): the next download of the same file from the same
/// peers asks each peer for the pieces it served the last time, whatever order the
/// connections ask in, and the file still fills nearly front to back.
@Suite("PieceScheduler: piece homes")
struct PieceSchedulerAffinityTests {
    static let keys: [PieceScheduler.PeerID: UInt64] = [1: 0x1111, 2: 0x2222, 3: 0x3333, 4: 0x4444]

    /// Runs a whole download in which the peers ask in `order(round)` and every piece
    /// verifies at once; returns who fetched each piece and, per assignment, how many pieces
    /// below it were still unassigned.
    static func download(pieces: Int, keyed: Bool, order: (Int) -> [PieceScheduler.PeerID])
        -> (fetchedBy: [PieceScheduler.PeerID?], skippedBelow: [Int]) {
        var scheduler = PieceScheduler(pieceCount: pieces)
        for (peer, key) in keys {
            scheduler.addPeer(peer)
            if keyed { scheduler.setAffinity(key, of: peer) }
        }
        var fetchedBy = [PieceScheduler.PeerID?](repeating: nil, count: pieces)
        var skippedBelow: [Int] = []
        var round = 0
        while !scheduler.isComplete {
            for peer in order(round) {
                guard let assignment = scheduler.nextPiece(for: peer, now: at(round)) else { continue }
                #expect(!assignment.isDuplicate)
                #expect(fetchedBy[assignment.piece] == nil, "piece \(assignment.piece) handed out twice")
                skippedBelow.append((0..<assignment.piece).filter { fetchedBy[$0] == nil }.count)
                fetchedBy[assignment.piece] = peer
                scheduler.pieceVerified(assignment.piece, by: peer)
            }
            round += 1
        }
        return (fetchedBy, skippedBelow)
    }

    static func agreement(_ a: [PieceScheduler.PeerID?], _ b: [PieceScheduler.PeerID?]) -> Double {
        Double(zip(a, b).filter { $0 == $1 }.count) / Double(a.count)
    }

    @Test func theNextDownloadAsksEachPeerForThePiecesItServedBefore() {
        let inOrder: (Int) -> [PieceScheduler.PeerID] = { _ in [1, 2, 3, 4] }
        // Another download: the connections ask in a different order every round.
        let shuffled: (Int) -> [PieceScheduler.PeerID] = { round in
            [[4, 2, 1, 3], [2, 3, 4, 1], [3, 1, 4, 2]][round % 3]
        }
        let first = Self.download(pieces: 256, keyed: true, order: inOrder)
        let second = Self.download(pieces: 256, keyed: true, order: shuffled)
        #expect(Self.agreement(first.fetchedBy, second.fetchedBy) >= 0.8)
        // Every peer still did its share.
        for peer in 1...4 {
            #expect(second.fetchedBy.filter { $0 == peer }.count >= 50)
        }
        // Without homes, which peer fetches a piece depends on who asked first.
        let plainFirst = Self.download(pieces: 256, keyed: false, order: inOrder)
        let plainSecond = Self.download(pieces: 256, keyed: false, order: shuffled)
        #expect(Self.agreement(plainFirst.fetchedBy, plainSecond.fetchedBy) < 0.5)
    }

    @Test func theFileStillFillsNearlyFrontToBack() {
        let window = PieceScheduler.affinityWindow(members: 4)
        let run = Self.download(pieces: 256, keyed: true, order: { _ in [3, 1, 4, 2] })
        // A peer takes one of its own among the lowest `window` unassigned pieces, or the lowest.
        #expect(run.skippedBelow.allSatisfy { $0 < window })
        #expect(run.skippedBelow.contains { $0 > 0 })
        // The last window's worth goes strictly lowest first (the whole-file hash is not left
        // to read back what lies above a late low piece).
        #expect(run.skippedBelow.suffix(window).allSatisfy { $0 == 0 })
    }

    @Test func givenBackPiecesGoFirstWhateverTheirHome() throws {
        var scheduler = PieceScheduler(pieceCount: 64)
        for (peer, key) in Self.keys {
            scheduler.addPeer(peer)
            scheduler.setAffinity(key, of: peer)
        }
        var taken: [Int] = []
        for peer in 1...4 {
            let assignment = scheduler.nextPiece(for: peer, now: at(0))
            taken.append(try #require(assignment).piece)
        }
        let lowest = try #require(taken.min())
        let holder = try #require(scheduler.requesters(of: lowest).first)
        scheduler.pieceAbandoned(lowest, by: holder)
        let asker = holder == 1 ? 2 : 1
        #expect(scheduler.nextPiece(for: asker, now: at(1))?.piece == lowest)
    }

    @Test func withoutAnotherKeyedPeerPiecesGoLowestFirst() {
        var scheduler = PieceScheduler(pieceCount: 8)
        scheduler.addPeer(1)
        scheduler.setAffinity(0x1111, of: 1)
        scheduler.addPeer(2)  // no key: nobody's home
        let handedOut = (0..<4).flatMap { round in
            [1, 2].compactMap { scheduler.nextPiece(for: $0, now: at(round))?.piece }
        }
        #expect(handedOut == Array(0..<8))
    }

    @Test func aPeerThatLeavesTakesOnlyItsOwnHomesWithIt() {
        let four = (1...4).map { (peer: $0, key: Self.keys[$0]!) }
        let three = four.filter { $0.peer != 4 }
        var moved = 0
        for piece in 0..<1024 {
            let before = PieceScheduler.home(of: piece, among: four)
            let after = PieceScheduler.home(of: piece, among: three)
            if before == 4 { moved += 1 } else { #expect(after == before) }
        }
        // Rendezvous hashing spreads the homes evenly: about a quarter were peer 4's.
        #expect((192...320).contains(moved))
    }

    @Test func aFailedPeerIsNobodysHome() throws {
        let four = (1...4).map { (peer: $0, key: Self.keys[$0]!) }
        let three = four.filter { $0.peer != 4 }
        // The first piece whose home is peer 4, and the peer whose home it becomes without it.
        let piece = try #require((0..<64).first { PieceScheduler.home(of: $0, among: four) == 4 })
        let heir = try #require(PieceScheduler.home(of: piece, among: three))
        var scheduler = PieceScheduler(pieceCount: 64, alreadyVerified: 0..<piece)
        for (peer, key) in Self.keys {
            scheduler.addPeer(peer)
            scheduler.setAffinity(key, of: peer)
        }
        // While peer 4 is active, its heir skips the piece for a home of its own.
        var withPeer4 = scheduler
        #expect(withPeer4.nextPiece(for: heir, now: at(0))?.piece != piece)
        scheduler.peerFailed(4)
        #expect(scheduler.nextPiece(for: heir, now: at(0))?.piece == piece)
    }

    /// Pieces taken ahead of the cursor, given back, failed peers coming back: every piece is
    /// still handed out until it verifies, and none is in flight twice.
    @Test func givenBackHomesTakenAheadAreHandedOutAgain() {
        var scheduler = PieceScheduler(pieceCount: 200)
        for (peer, key) in Self.keys {
            scheduler.addPeer(peer)
            scheduler.setAffinity(key, of: peer)
        }
        var random = UInt64(7)
        func next(_ bound: Int) -> Int {
            random = PieceScheduler.mix(random &+ 0x9E37_79B9_7F4A_7C15)
            return Int(random % UInt64(bound))
        }
        var step = 0
        while !scheduler.isComplete && step < 10_000 {
            step += 1
            let peer = 1 + next(4)
            let inFlight = scheduler.inFlight(for: peer)
            switch next(10) {
            case 0..<4:
                _ = scheduler.nextPiece(for: peer, now: at(step), allowDuplicate: false)
            case 4..<7:
                if !inFlight.isEmpty { scheduler.pieceVerified(inFlight[next(inFlight.count)], by: peer) }
            case 7..<9:
                if let piece = inFlight.first { scheduler.pieceAbandoned(piece, by: peer) }
            default:
                scheduler.peerFailed(peer)
                scheduler.addPeer(peer)
            }
            #expect((0..<200).allSatisfy { scheduler.requesters(of: $0).count <= 1 })
        }
        #expect(scheduler.isComplete)
        #expect(step > 200)
    }

    @Test func theSwarmPolicyGivesEachConnectionTheHomesOfItsAddress() {
        var simulation = SwarmPolicySimulation(fileSize: 64 << 20,
                                               peers: (0..<4).map { _ in .init(rate: 20 * 1_048_576) })
        simulation.run()
        #expect(simulation.finished)
        let members = (0..<4).map { (peer: $0, key: SwarmPolicy.affinityKey(of: Endpoint(host: "127.0.0.1", port: 7000 + $0))) }
        let atHome = simulation.stored.filter { PieceScheduler.home(of: $0.key, among: members) == $0.value }.count
        #expect(Double(atHome) / Double(simulation.stored.count) >= 0.7)
    }

    @Test func addressesGiveStableDistinctKeys() {
        let a = SwarmPolicy.affinityKey(of: Endpoint(host: "127.0.0.1", port: 6021))
        let b = SwarmPolicy.affinityKey(of: Endpoint(host: "127.0.0.1", port: 6022))
        #expect(a != b)
        // FNV-1a of "127.0.0.1:6021" (computed apart): the same in every process, unlike `hashValue`.
        #expect(a == 0xF171_77E0_F47D_558B)
    }
}
