import SonicCore
@testable import SonicSwarm
import Testing

/// Single events against the swarm policy: what each one decides, in virtual time.
@Suite("SwarmPolicy: events and actions")
struct SwarmPolicyTests {
    static let manifest = SwarmPolicySimulation.manifest(fileSize: 4 << 20, pieceSize: 1 << 20)  // four 1 MiB pieces
    static let endpoints = (0..<3).map { Endpoint(host: "127.0.0.1", port: 7000 + $0) }

    static func policy(peers: Int = 2, settings: SwarmPolicy.Settings = .init()) -> SwarmPolicy {
        SwarmPolicy(manifest: manifest, peers: Array(endpoints.prefix(peers)), alreadyVerified: [], settings: settings)
    }

    @Test func aConnectedPeerIsSentItsPipelineInOrder() {
        var policy = Self.policy()
        #expect(policy.connected(0, now: at(0)) == [.send(to: 0)])
        let size = UInt64(Self.manifest.pieceSize)
        // Before it has delivered anything, its second request is for the end of the file.
        #expect(policy.takeCommands(for: 0) == [.obtain(requestID: 1, offset: 0, length: Int(size)),
                                                .obtain(requestID: 2, offset: 3 * size, length: Int(size))])
        // Taken once.
        #expect(policy.takeCommands(for: 0) == [])
        #expect(policy.connected(1, now: at(0)) == [.send(to: 1)])
        #expect(policy.takeCommands(for: 1) == [.obtain(requestID: 1, offset: size, length: Int(size)),
                                                .obtain(requestID: 2, offset: 2 * size, length: Int(size))])
        #expect(policy.inFlight == 4)
    }

    /// A slow peer keeps its first pipeline to the end of the download; the whole-file hash,
    /// which runs front to back, must not wait for it in the middle of the file.
    @Test func oncePeerHasDeliveredItsRequestsGoLowestFirst() {
        let manifest = SwarmPolicySimulation.manifest(fileSize: 8 << 20, pieceSize: 1 << 20)
        var policy = SwarmPolicy(manifest: manifest, peers: [Self.endpoints[0]], alreadyVerified: [],
                                 settings: .init())
        _ = policy.connected(0, now: at(0))
        #expect(Self.offsets(policy.takeCommands(for: 0)) == [0, 7 << 20])
        let length = manifest.pieceSize
        _ = policy.blockArrived(from: 0, requestID: 1, rawLength: length, wireLength: length, now: at(1))
        _ = policy.requestEnded(from: 0, requestID: 1, digest: manifest.pieceHashes[0], now: at(1))
        _ = policy.pieceStored(0, by: 0, won: true, now: at(1))
        // Delivered: the next piece is the lowest missing one, not the next from the end.
        #expect(Self.offsets(policy.takeCommands(for: 0)) == [1 << 20])
    }

    static func offsets(_ commands: [PeerSession.Command]) -> [UInt64] {
        commands.compactMap { if case .obtain(_, let offset, _) = $0 { offset } else { nil } }
    }

    @Test func blocksAreKeptInOrderAndTheirFileOffsetsFollow() {
        var policy = Self.policy(peers: 1)
        _ = policy.connected(0, now: at(0))
        _ = policy.takeCommands(for: 0)
        let (first, _) = policy.blockArrived(from: 0, requestID: 1, rawLength: 1000, wireLength: 600, now: at(0))
        #expect(first == .keep(piece: 0, fileOffset: 0, writesThrough: true))
        let (second, _) = policy.blockArrived(from: 0, requestID: 1, rawLength: 1000, wireLength: 600, now: at(0))
        #expect(second == .keep(piece: 0, fileOffset: 1000, writesThrough: true))
        #expect(policy.receivingBytes == 2000)
        #expect(policy.peers[0].wireBytes == 1200)
    }

    @Test func dataForAnyRequestButTheOldestClosesTheConnection() {
        var policy = Self.policy(peers: 1)
        _ = policy.connected(0, now: at(0))
        _ = policy.takeCommands(for: 0)
        let (verdict, actions) = policy.blockArrived(from: 0, requestID: 2, rawLength: 10, wireLength: 10, now: at(0))
        #expect(verdict == .discard)
        #expect(actions.first == .close(0, reason: "protocol violation: data for request 2, expected 1"))
        #expect(!policy.peers[0].banned)
        #expect(policy.inFlight == 0)
        #expect(policy.scheduler.unassignedCount == 4)
    }

    @Test func moreBytesThanThePieceHoldsBansThePeer() {
        var policy = Self.policy()
        for peer in 0..<2 { _ = policy.connected(peer, now: at(0)); _ = policy.takeCommands(for: peer) }
        let (_, actions) = policy.blockArrived(from: 0, requestID: 1, rawLength: Self.manifest.pieceSize + 1,
                                               wireLength: 10, now: at(0))
        #expect(actions.contains(.close(0, reason: "piece 0 failed verification (more bytes than the piece holds)")))
        #expect(policy.peers[0].banned)
        #expect(policy.scheduler.isBanned(0))
        // Its pieces are missing again; the other connection's pipeline is full.
        #expect(policy.scheduler.unassignedCount == 2)
        #expect(!actions.contains(.send(to: 1)))
    }

    @Test func aWrongDigestBansAndARightOneIsStoredThenVerified() {
        var policy = Self.policy()
        for peer in 0..<2 { _ = policy.connected(peer, now: at(0)); _ = policy.takeCommands(for: peer) }
        let length = Self.manifest.pieceSize
        _ = policy.blockArrived(from: 1, requestID: 1, rawLength: length, wireLength: length, now: at(1))
        let (bad, badActions) = policy.requestEnded(from: 1, requestID: 1, digest: .of([1]), now: at(1))
        #expect(bad == .drop)
        #expect(badActions.contains(.close(1, reason: "piece 1 failed verification (SHA-256 mismatch)")))

        _ = policy.blockArrived(from: 0, requestID: 1, rawLength: length, wireLength: length, now: at(1))
        let (good, _) = policy.requestEnded(from: 0, requestID: 1, digest: Self.manifest.pieceHashes[0], now: at(1))
        #expect(good == .store(piece: 0))
        #expect(!policy.scheduler.isVerified(0))
        _ = policy.pieceStored(0, by: 0, won: true, now: at(1))
        #expect(policy.scheduler.isVerified(0))
        #expect(policy.verifiedBytes == UInt64(length))
        #expect(policy.peers[0].pieces == 1)
    }

    @Test func aShortRequestBansThePeer() {
        var policy = Self.policy(peers: 1)
        _ = policy.connected(0, now: at(0))
        _ = policy.takeCommands(for: 0)
        _ = policy.blockArrived(from: 0, requestID: 1, rawLength: 10, wireLength: 10, now: at(0))
        let (verdict, actions) = policy.requestEnded(from: 0, requestID: 1, digest: .of([1]), now: at(0))
        #expect(verdict == .drop)
        #expect(actions.contains(.close(0, reason: "piece 0 failed verification (10 of 1048576 bytes)")))
    }

    @Test func theFirstStoredCopyWinsAndTheOtherRequestIsCancelledOnItsConnection() {
        // Two peers, one piece: the second gets a duplicate once the first request is old.
        let manifest = SwarmPolicySimulation.manifest(fileSize: 1 << 20, pieceSize: 1 << 20)
        var policy = SwarmPolicy(manifest: manifest, peers: Array(Self.endpoints.prefix(2)), alreadyVerified: [],
                                 settings: .init())
        _ = policy.connected(0, now: at(0))
        _ = policy.takeCommands(for: 0)
        #expect(policy.connected(1, now: at(0)) == [])
        #expect(policy.tick(now: at(1)) == [.send(to: 1)])
        #expect(policy.takeCommands(for: 1) == [.obtain(requestID: 1, offset: 0, length: 1 << 20)])
        let (verdict, _) = policy.blockArrived(from: 1, requestID: 1, rawLength: 1 << 20, wireLength: 10, now: at(1))
        #expect(verdict == .keep(piece: 0, fileOffset: 0, writesThrough: false))
        _ = policy.requestEnded(from: 1, requestID: 1, digest: manifest.pieceHashes[0], now: at(1))
        let actions = policy.pieceStored(0, by: 1, won: true, now: at(1))
        #expect(actions == [.send(to: 0), .finished])
        #expect(policy.takeCommands(for: 0) == [.cancel(requestID: 1)])
        // What still arrives for the cancelled request is dropped, until the peer timeout.
        #expect(policy.blockArrived(from: 0, requestID: 1, rawLength: 10, wireLength: 10, now: at(2)).0 == .discard)
        let (_, late) = policy.blockArrived(from: 0, requestID: 1, rawLength: 10, wireLength: 10, now: at(7))
        #expect(late.first == .close(0, reason: "protocol violation: still sending a request cancelled 5.0 seconds ago"))
    }

    @Test func anErrorAnswerEndsTheConnectionAndReturnsThePiece() {
        var policy = Self.policy(peers: 1)
        _ = policy.connected(0, now: at(0))
        _ = policy.takeCommands(for: 0)
        let actions = policy.requestRefused(by: 0, requestID: 2, reason: "content changed", now: at(0))
        #expect(actions.first == .close(0, reason: "peer no longer serves this content: content changed"))
        #expect(policy.scheduler.unassignedCount == 4)
        #expect(policy.takeCommands(for: 0) == [])
    }

    @Test func aBitfieldLimitsWhatIsAskedAndAHaveWakesTheConnection() {
        var policy = Self.policy(peers: 1)
        // The holdings arrive before the connection is ready: nothing is asked yet.
        #expect(policy.holdingsArrived(from: 0, PieceBitfield(pieceCount: 4, pieces: [3]), now: at(0)) == [])
        _ = policy.connected(0, now: at(0))
        #expect(policy.takeCommands(for: 0).map(\.requestID) == [1])
        #expect(policy.sessions[0].requests.map(\.piece) == [3])
        #expect(policy.haveArrived(from: 0, piece: 1, now: at(0)) == [.send(to: 0)])
        #expect(policy.sessions[0].requests.map(\.piece) == [3, 1])
        // A bitfield of another size, or a HAVE past the end, is a protocol violation.
        let actions = policy.haveArrived(from: 0, piece: 4, now: at(0))
        #expect(actions.first == .close(0, reason: "protocol violation: HAVE of piece 4 of 4"))
    }

    @Test func discoveredHoldersJoinOnceAndUpToTheLimit() {
        var policy = Self.policy(peers: 1, settings: .init(maximumPeers: 3))
        let known = Self.endpoints[0]
        let new = (1...4).map { Endpoint(host: "127.0.0.1", port: 8000 + $0) }
        let joined = policy.peersDiscovered([known, new[0], new[0], new[1], new[2], new[3]])
        #expect(joined.map(\.peer) == [1, 2])
        #expect(joined.map(\.endpoint) == [new[0], new[1]])
        #expect(policy.peersDiscovered(new).isEmpty)
        // A joined peer gets work once it is connected.
        #expect(policy.connected(2, now: at(0)) == [.send(to: 2)])
    }

    @Test func aCancelledUnsentRequestIsNeverSent() {
        var session = PeerSession()
        session.connected()
        session.add(piece: 3, offset: 0, length: 10, isDuplicate: false, now: at(0))
        let cancelled = session.cancel(piece: 3, now: at(0))
        #expect(cancelled)
        #expect(session.requests.isEmpty)
        #expect(session.takeCommands() == [])
    }

    @Test func aSentRequestIsCancelledOnceAndStaysUntilItsEnd() {
        var session = PeerSession()
        session.connected()
        session.add(piece: 3, offset: 0, length: 10, isDuplicate: false, now: at(0))
        session.add(piece: 4, offset: 10, length: 10, isDuplicate: false, now: at(0))
        #expect(session.takeCommands().count == 2)
        let first = session.cancel(piece: 3, now: at(1))
        let again = session.cancel(piece: 3, now: at(1))
        #expect(first && !again)
        #expect(session.takeCommands() == [.cancel(requestID: 1)])
        #expect(session.requests.map(\.id) == [1, 2])
        #expect(session.owedBytes() == 10)
    }
}

extension PeerSession.Command {
    var requestID: UInt32 {
        switch self {
        case .obtain(let id, _, _), .cancel(let id): id
        }
    }
}

extension SwarmPolicyTests {
    @Test func aCheckpointIsDueAtMostOncePerIntervalAndNeverOnceComplete() {
        // One request at a time, pieces in order: every piece is handed out (the endgame flush
        // of the test below) only with the last one.
        let manifest = SwarmPolicySimulation.manifest(fileSize: 16 << 20, pieceSize: 1 << 20)
        var policy = SwarmPolicy(manifest: manifest, peers: [Self.endpoints[0]], alreadyVerified: [],
                                 settings: .init(requestsPerPeer: 1, checkpointInterval: .seconds(1)))
        _ = policy.connected(0, now: at(0))
        _ = policy.takeCommands(for: 0)
        #expect(!policy.tick(now: at(1)).contains(.checkpoint), "nothing verified yet")
        let length = manifest.pieceSize
        @discardableResult func verify(_ piece: Int, at time: ContinuousClock.Instant) -> [SwarmPolicy.Action] {
            let id = UInt32(piece + 1)
            _ = policy.blockArrived(from: 0, requestID: id, rawLength: length, wireLength: length, now: time)
            _ = policy.requestEnded(from: 0, requestID: id, digest: manifest.pieceHashes[piece], now: time)
            defer { _ = policy.takeCommands(for: 0) }
            return policy.pieceStored(piece, by: 0, won: true, now: time)
        }
        #expect(!verify(0, at: at(2)).contains(.checkpoint))
        #expect(policy.tick(now: at(2)).contains(.checkpoint))
        #expect(!verify(1, at: at(2)).contains(.checkpoint))
        #expect(!policy.tick(now: at(2) + .milliseconds(500)).contains(.checkpoint), "a second apart at least")
        #expect(policy.tick(now: at(3)).contains(.checkpoint))
        #expect(!policy.tick(now: at(5)).contains(.checkpoint), "nothing new verified")
        for piece in 2..<16 { verify(piece, at: at(6)) }
        #expect(policy.isComplete)
        #expect(!policy.tick(now: at(9)).contains(.checkpoint))
    }
}

extension SwarmPolicyTests {
    /// Once every piece is handed out, what remains arrives within a fraction of a second: the
    /// file is flushed then, whatever the timer says, so the final `fdatasync` has little left.
    @Test func theFileIsFlushedOnceWhenTheLastPieceIsHandedOut() throws {
        let manifest = SwarmPolicySimulation.manifest(fileSize: 8 << 20, pieceSize: 1 << 20)
        var policy = SwarmPolicy(manifest: manifest, peers: [Self.endpoints[0]], alreadyVerified: [],
                                 settings: .init(checkpointInterval: .seconds(60)))
        _ = policy.connected(0, now: at(0))
        var queue = policy.takeCommands(for: 0).map(\.requestID)
        var flushes: [Int] = []
        for delivery in 1...8 {
            let id = try #require(queue.first)
            queue.removeFirst()
            let piece = try #require(policy.sessions[0].requests.first?.piece)
            let length = manifest.pieceSize
            _ = policy.blockArrived(from: 0, requestID: id, rawLength: length, wireLength: length, now: at(delivery))
            _ = policy.requestEnded(from: 0, requestID: id, digest: manifest.pieceHashes[piece], now: at(delivery))
            let actions = policy.pieceStored(piece, by: 0, won: true, now: at(delivery))
            if actions.contains(.checkpoint) {
                flushes.append(delivery)
                #expect(policy.scheduler.unassignedCount == 0)
            }
            queue += policy.takeCommands(for: 0).map(\.requestID)
        }
        #expect(policy.isComplete)
        // Pieces 0 and 7 first, then one more per delivery: piece 6, the last, after the sixth.
        #expect(flushes == [6])
    }
}
