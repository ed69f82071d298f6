import SonicCore
import SonicTestSupport
import SonicSwarm
import Testing

/// Discrete-time swarm: each peer downloads its requests one after another, spending
/// `period` ticks per piece, and keeps up to `depth` requests queued (pipelining).
struct SwarmSimulation {
    typealias PeerID = PieceScheduler.PeerID

    var scheduler: PieceScheduler
    let periods: [PeerID: Int]
    let depth: Int
    /// Each peer's queued requests: piece and ticks left for the one being downloaded.
    var queues: [PeerID: [(piece: Int, ticksLeft: Int)]] = [:]
    /// Every normal-mode assignment, in order.
    var normalAssignments: [Int] = []
    var duplicateAssignments = 0
    var cancelledRequests = 0
    var tick = 0

    init(pieceCount: Int, periods: [PeerID: Int], depth: Int) {
        scheduler = PieceScheduler(pieceCount: pieceCount)
        self.periods = periods
        self.depth = depth
        for peer in periods.keys.sorted() {
            scheduler.addPeer(peer)
            queues[peer] = []
        }
    }

    /// Runs until the download completes; returns the number of ticks it took.
    mutating func runToCompletion(maxTicks: Int) -> Int? {
        let order = periods.keys.sorted()
        while !scheduler.isComplete {
            guard tick < maxTicks else { return nil }
            for peer in order {
                while queues[peer]!.count < depth,
                      let assignment = scheduler.nextPiece(for: peer, now: at(tick)) {
                    if assignment.isDuplicate {
                        duplicateAssignments += 1
                    } else {
                        normalAssignments.append(assignment.piece)
                    }
                    queues[peer]!.append((assignment.piece, periods[peer]!))
                }
            }
            tick += 1
            for peer in order where !queues[peer]!.isEmpty {
                queues[peer]![0].ticksLeft -= 1
                guard queues[peer]![0].ticksLeft == 0 else { continue }
                let piece = queues[peer]!.removeFirst().piece
                for other in scheduler.pieceVerified(piece, by: peer) {
                    let before = queues[other]!.count
                    queues[other]!.removeAll { $0.piece == piece }
                    cancelledRequests += before - queues[other]!.count
                }
            }
        }
        return tick
    }
}

@Suite("PieceScheduler: simulated swarms")
struct PieceSchedulerSimulationTests {
    @Test(arguments: [1, 3])
    func distributionFollowsSpeed(depth: Int) throws {
        // Peer 1 completes a piece every tick, peer 2 every 4 ticks.
        var simulation = SwarmSimulation(pieceCount: 400, periods: [1: 1, 2: 4], depth: depth)
        let finished = simulation.runToCompletion(maxTicks: 10_000)
        let ticks = try #require(finished)
        let fast = simulation.scheduler.verifiedPieces(by: 1)
        let slow = simulation.scheduler.verifiedPieces(by: 2)
        #expect(fast + slow == 400)
        let ratio = Double(fast) / Double(slow)
        #expect((3.6...4.4).contains(ratio), "fast \(fast) vs slow \(slow)")
        // Together they fetch 1.25 pieces per tick: 320 ticks.
        #expect(ticks <= 324, "took \(ticks) ticks")
        #expect(simulation.normalAssignments == Array(0..<400))
    }

    @Test func slowPeerDoesNotHoldUpTheEnd() throws {
        // Peer 2 needs 200 ticks per piece; without endgame its two pieces would end the
        // download at tick 400, while peer 1 alone needs 100.
        var simulation = SwarmSimulation(pieceCount: 100, periods: [1: 1, 2: 200], depth: 2)
        let finished = simulation.runToCompletion(maxTicks: 10_000)
        let ticks = try #require(finished)
        #expect(ticks <= 101, "took \(ticks) ticks")
        #expect(simulation.scheduler.verifiedPieces(by: 1) == 100)
        #expect(simulation.scheduler.verifiedPieces(by: 2) == 0)
        #expect(simulation.duplicateAssignments == 2)
        #expect(simulation.cancelledRequests == 2)
        #expect(simulation.queues[2]!.isEmpty)
    }

    @Test func manyPeersFetchALargeFileOncePerPieceInOrder() throws {
        let pieceCount = 16_384
        var periods: [Int: Int] = [:]
        for peer in 0..<32 { periods[peer] = peer % 8 + 1 }
        var simulation = SwarmSimulation(pieceCount: pieceCount, periods: periods, depth: 4)
        let finished = simulation.runToCompletion(maxTicks: 100_000)
        let ticks = try #require(finished)

        let scheduler = simulation.scheduler
        #expect(scheduler.isComplete)
        #expect(scheduler.missingPieces == [])
        #expect(scheduler.verifiedBitfield.bytes == [UInt8](repeating: 0xFF, count: pieceCount / 8))
        // Normal mode handed every piece out exactly once, lowest first.
        #expect(simulation.normalAssignments == Array(0..<pieceCount))
        // Endgame is only the tail: at most two requesters for what was in flight at the end.
        #expect(simulation.duplicateAssignments <= 32 * 4)
        #expect(simulation.cancelledRequests <= simulation.duplicateAssignments)
        #expect((0..<32).map { scheduler.verifiedPieces(by: $0) }.reduce(0, +) == pieceCount)
        // Peers 0, 8, 16, 24 are 8× faster than 7, 15, 23, 31.
        let fastest = [0, 8, 16, 24].map { scheduler.verifiedPieces(by: $0) }.reduce(0, +)
        let slowest = [7, 15, 23, 31].map { scheduler.verifiedPieces(by: $0) }.reduce(0, +)
        #expect(Double(fastest) / Double(slowest) > 7, "fastest \(fastest), slowest \(slowest)")
        let rate = (0..<32).map { 1.0 / Double($0 % 8 + 1) }.reduce(0, +)
        #expect(Double(ticks) < Double(pieceCount) / rate + 16, "took \(ticks) ticks")
    }

    /// Random events against a model of what the scheduler must do, checking every
    /// invariant after each step.
    @Test(arguments: [(UInt64(1), 2), (UInt64(2), 2), (UInt64(3), 3), (UInt64(4), 1)])
    func randomEventsKeepEveryInvariant(seed: UInt64, maxRequesters: Int) {
        var random = SeededBytes(seed: seed)
        let pieceCount = 40
        let peerIDs = Array(1...6)
        var scheduler = PieceScheduler(pieceCount: pieceCount, alreadyVerified: [5, 17],
                                       maxRequestersPerPiece: maxRequesters)
        for peer in peerIDs { scheduler.addPeer(peer) }
        /// When each (piece, peer) request started, in steps; valid while the peer is a requester.
        var startedAt: [Int: [Int: Int]] = [:]
        var everBanned: Set<Int> = []

        for step in 0..<4_000 {
            let peer = peerIDs.randomElement(using: &random)!
            let held = scheduler.inFlight(for: peer)
            switch Int.random(in: 0..<100, using: &random) {
            case 0..<55:
                let unassigned = (0..<pieceCount).filter {
                    !scheduler.isVerified($0) && scheduler.requesters(of: $0).isEmpty
                }
                let eligible = (0..<pieceCount).filter {
                    let requesters = scheduler.requesters(of: $0)
                    return !requesters.isEmpty && requesters.count < maxRequesters && !requesters.contains(peer)
                }
                let wasActive = scheduler.isActive(peer)
                let assignment = scheduler.nextPiece(for: peer, now: at(step))
                if !wasActive {
                    #expect(assignment == nil)
                } else if let first = unassigned.first {
                    #expect(assignment == .init(piece: first, isDuplicate: false))
                } else if let oldest = eligible.min(by: { a, b in
                    startedAt[a]!.filter { scheduler.requesters(of: a).contains($0.key) }.values.min()!
                        < startedAt[b]!.filter { scheduler.requesters(of: b).contains($0.key) }.values.min()!
                }) {
                    #expect(assignment == .init(piece: oldest, isDuplicate: true))
                } else {
                    #expect(assignment == nil)
                }
                if let assignment {
                    startedAt[assignment.piece, default: [:]][peer] = step
                }
            case 55..<80:
                if let piece = held.randomElement(using: &random) {
                    let others = scheduler.requesters(of: piece).filter { $0 != peer }
                    #expect(scheduler.pieceVerified(piece, by: peer) == others)
                }
            case 80..<92:
                if let piece = held.randomElement(using: &random) {
                    scheduler.pieceAbandoned(piece, by: peer)
                }
            case 92..<94:
                if let piece = held.randomElement(using: &random), everBanned.count < peerIDs.count - 2 {
                    #expect(scheduler.pieceCorrupt(piece, from: peer) == held.filter { $0 != piece })
                    everBanned.insert(peer)
                }
            case 94..<97:
                #expect(scheduler.peerFailed(peer) == held)
            default:
                scheduler.addPeer(peer)
            }

            // Invariants, checked through the public API only.
            var inFlightByPeer: [Int: [Int]] = [:]
            var unassignedCount = 0
            for piece in 0..<pieceCount {
                let requesters = scheduler.requesters(of: piece)
                #expect(requesters.count <= maxRequesters)
                #expect(Set(requesters).count == requesters.count)
                if scheduler.isVerified(piece) {
                    #expect(requesters.isEmpty)
                } else if requesters.isEmpty {
                    unassignedCount += 1
                }
                for requester in requesters { inFlightByPeer[requester, default: []].append(piece) }
            }
            #expect(scheduler.unassignedCount == unassignedCount)
            #expect(scheduler.verifiedCount == (0..<pieceCount).filter(scheduler.isVerified).count)
            #expect(scheduler.isVerified(5) && scheduler.isVerified(17))
            for peer in peerIDs {
                #expect(scheduler.inFlight(for: peer) == inFlightByPeer[peer, default: []])
                #expect(scheduler.isBanned(peer) == everBanned.contains(peer))
                if scheduler.isBanned(peer) {
                    #expect(scheduler.inFlight(for: peer) == [])
                }
            }
        }

        // Whatever happened, the peers still standing finish the download.
        for peer in peerIDs { scheduler.addPeer(peer) }
        var rounds = 0
        while !scheduler.isComplete && rounds < 1_000 {
            rounds += 1
            for peer in peerIDs {
                _ = scheduler.nextPiece(for: peer, now: at(10_000 + rounds))
                if let piece = scheduler.inFlight(for: peer).first {
                    scheduler.pieceVerified(piece, by: peer)
                }
            }
        }
        #expect(scheduler.isComplete)
        #expect(peerIDs.filter(scheduler.isBanned).allSatisfy { scheduler.inFlight(for: $0).isEmpty })
        #expect(peerIDs.map(scheduler.verifiedPieces(by:)).reduce(0, +) == pieceCount - 2)
    }
}
