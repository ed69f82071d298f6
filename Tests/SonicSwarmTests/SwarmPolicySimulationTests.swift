import SonicCore
@testable import SonicSwarm
import Testing

/// The real swarm policy in virtual time (``SwarmPolicySimulation``): the cases the swarm
/// benchmark measures, and the faults, with no sockets and no clock.
@Suite("SwarmPolicy: simulated swarms")
struct SwarmPolicySimulationTests {
    static let MiB = 1_048_576.0

    static func peers(_ rates: [Double]) -> [SwarmPolicySimulation.Peer] {
        rates.map { SwarmPolicySimulation.Peer(rate: $0 * MiB) }
    }

    @Test func equalPeersFinishCloseToTheIdealTime() {
        var simulation = SwarmPolicySimulation(fileSize: 256 << 20, peers: Self.peers(Array(repeating: 20, count: 8)))
        simulation.run()
        #expect(simulation.finished)
        #expect(simulation.stored.count == simulation.manifest.pieceCount)
        let efficiency = simulation.idealSeconds / simulation.elapsed.seconds
        #expect(efficiency >= 0.97, "efficiency \(efficiency)")
        // Every peer did its share.
        for peer in 0..<8 {
            #expect(simulation.stored.values.filter { $0 == peer }.count >= 24)
        }
    }

    @Test(arguments: [1.0, 2.0])
    func aSlowPeerDoesNotHoldUpTheEnd(slowRate: Double) {
        var simulation = SwarmPolicySimulation(fileSize: 256 << 20,
                                               peers: Self.peers(Array(repeating: 20, count: 7) + [slowRate]))
        simulation.run()
        #expect(simulation.finished)
        let efficiency = simulation.idealSeconds / simulation.elapsed.seconds
        #expect(efficiency >= 0.97, "efficiency \(efficiency) at \(simulation.elapsed)")
        // No more than a few pieces' worth of bytes were wasted on copies and cancels.
        let waste = Double(simulation.totalSentBytes) / Double(simulation.manifest.fileSize) - 1
        #expect(waste < 0.05, "waste \(waste)")
        #expect(simulation.peers.allSatisfy { $0.withdrawn <= 1 })
    }

    @Test func aSlowPeersUnstartedRequestGoesBackOnceItsRateIsKnown() {
        // At 2 MiB/s its second 1 MiB piece would arrive after the 20 MiB/s peers finished
        // everything else; it was handed out before any rate was known.
        var simulation = SwarmPolicySimulation(fileSize: 256 << 20,
                                               peers: Self.peers(Array(repeating: 20, count: 7) + [2]))
        simulation.run()
        #expect(simulation.finished)
        #expect(simulation.peers[7].withdrawn == 1)
        #expect(simulation.peers[0..<7].allSatisfy { $0.withdrawn == 0 })
        // So nobody had to copy it at the end.
        #expect(simulation.duplicates == 0)
    }

    @Test func aPeerSlowerThanAPieceTakesNothingNearTheEnd() {
        // 1 MiB pieces at 0.25 MiB/s take four seconds; the fast peers finish in about one.
        var simulation = SwarmPolicySimulation(fileSize: 64 << 20, peers: Self.peers([20, 20, 20, 0.25]))
        simulation.run()
        #expect(simulation.finished)
        #expect(simulation.elapsed.seconds < 1.15, "took \(simulation.elapsed)")

    }

    @Test func aSlowPartialHolderIsNotLeftIdleForAFastPeerThatLacksItsPieces() {
        // The tail rule would have the slow peer leave the last pieces to the fast one, which
        // does not hold them: the download would never end.
        var peers = Self.peers([20, 1])
        let half = SwarmPolicySimulation.manifest(fileSize: 16 << 20).pieceCount / 2
        peers[0].holdings = Array(0..<half)
        peers[1].holdings = Array(half..<(2 * half))
        var simulation = SwarmPolicySimulation(fileSize: 16 << 20, peers: peers)
        simulation.run(limit: .seconds(60))
        #expect(simulation.finished)
        #expect(simulation.stored.count == simulation.manifest.pieceCount)
        #expect(simulation.stored.filter { $0.value == 1 }.count == half)
    }

    @Test func aLyingPeerIsBannedAndItsPiecesComeFromTheOthers() {
        var peers = Self.peers([20, 20, 20])
        peers[1].corruptPieces = Set(0..<1_000)
        var simulation = SwarmPolicySimulation(fileSize: 64 << 20, peers: peers)
        simulation.run()
        #expect(simulation.finished)
        #expect(simulation.stored.count == simulation.manifest.pieceCount)
        #expect(!simulation.stored.values.contains(1))
        #expect(simulation.policy.peers[1].banned)
        #expect(simulation.peers[1].closed)
        #expect(simulation.policy.retriedPieces >= 1)
    }

    @Test func aPeerThatDropsHalfwayGivesItsPiecesBack() {
        var peers = Self.peers([20, 20, 20])
        peers[0].failsAfterBytes = 10 << 20
        var simulation = SwarmPolicySimulation(fileSize: 64 << 20, peers: peers)
        simulation.run()
        #expect(simulation.finished)
        #expect(simulation.stored.count == simulation.manifest.pieceCount)
        #expect(simulation.policy.peers[0].failures == 1)
        #expect(simulation.policy.peers[0].lastError == "connection reset")
        #expect(!simulation.policy.peers[0].banned)
    }

    @Test func piecesInFlightStayWithinTheBudgetWhateverThePeerCount() {
        // 4 MiB of pieces in flight at most, beyond each connection's first request.
        var settings = SwarmPolicy.Settings()
        settings.maximumInFlightBytes = 4 << 20
        settings.requestsPerPeer = 4
        var simulation = SwarmPolicySimulation(fileSize: 64 << 20, peers: Self.peers(Array(repeating: 5, count: 16)),
                                               settings: settings)
        simulation.run()
        #expect(simulation.finished)
        let pieces = (4 << 20) / simulation.manifest.pieceSize
        #expect(simulation.peakInFlight <= pieces + 16, "peak \(simulation.peakInFlight)")
        #expect(simulation.peakInFlight > 16, "the budget was used")
    }

    @Test func progressIsCheckpointedWhilePiecesVerify() {
        var simulation = SwarmPolicySimulation(fileSize: 64 << 20, peers: Self.peers([4, 4]))
        simulation.run()
        #expect(simulation.finished)
        // About 8 seconds of download, a checkpoint every 250 ms at most.
        #expect((24...33).contains(simulation.checkpoints), "\(simulation.checkpoints) checkpoints")
    }
}
