import SonicCore
@testable import SonicSwarm

/// A swarm in virtual time around the real ``SwarmPolicy``: every simulated peer serves its
/// requests in order, one block at a time, at its own rate; CANCEL stops a request between
/// blocks and ends it early, as a seeder does. The policy's actions are carried out as the
/// engine would: woken connections take their commands, closed ones stop.
struct SwarmPolicySimulation {
    typealias PeerID = SwarmPolicy.PeerID

    struct Peer {
        /// Bytes per second.
        var rate: Double
        /// Pieces it lies about: it sends wrong bytes for them.
        var corruptPieces: Set<Int> = []
        /// The pieces it holds (a partial holder's BITFIELD); nil: every piece.
        var holdings: [Int]?
        /// Disconnects once it has sent this many bytes.
        var failsAfterBytes: Int?
        var queue: [(id: UInt32, length: Int, remaining: Int, cancelled: Bool)] = []
        var allowance = 0.0
        var sentBytes = 0
        var closed = false
        /// Requests cancelled before any of their bytes was sent.
        var withdrawn = 0
    }

    static let blockSize = 256 << 10
    static let step: Duration = .milliseconds(2)

    var policy: SwarmPolicy
    var peers: [Peer]
    let manifest: Manifest
    let origin = ContinuousClock.now
    var elapsed: Duration = .zero
    var finished = false
    /// Every piece stored, with the peer that won it.
    var stored: [Int: PeerID] = [:]
    var checkpoints = 0
    /// Endgame copies requested.
    var duplicates = 0
    /// The most requests the policy had in flight at once.
    var peakInFlight = 0
    var now: ContinuousClock.Instant { origin + elapsed }

    /// A file of `fileSize` bytes (in pieces of `pieceSize`, by default the usual size for
    /// it) whose piece hashes are stand-ins: the simulation reports the right or wrong
    /// digest, it never hashes.
    static func manifest(fileSize: UInt64, pieceSize: Int? = nil) -> Manifest {
        let pieceSize = pieceSize ?? Manifest.pieceSize(forFileSize: fileSize)
        let count = Manifest.pieceCount(fileSize: fileSize, pieceSize: pieceSize)
        return Manifest(fileSize: fileSize, pieceSize: pieceSize, fileHash: .of([0xFF]),
                        pieceHashes: (0..<count).map { SHA256Hash.of(Array("piece \($0)".utf8)) })
    }

    init(fileSize: UInt64, peers: [Peer], settings: SwarmPolicy.Settings = .init()) {
        manifest = Self.manifest(fileSize: fileSize)
        self.peers = peers
        policy = SwarmPolicy(manifest: manifest, peers: peers.indices.map { Endpoint(host: "127.0.0.1", port: 7000 + $0) },
                             alreadyVerified: [], settings: settings)
    }

    /// Runs until the policy reports the download finished, or `limit` of virtual time.
    mutating func run(limit: Duration = .seconds(600)) {
        for peer in peers.indices {
            if let holdings = peers[peer].holdings {
                carryOut(policy.holdingsArrived(from: peer, PieceBitfield(pieceCount: manifest.pieceCount, pieces: holdings),
                                                now: now))
            }
            carryOut(policy.connected(peer, now: now))
        }
        var sinceTick: Duration = .zero
        while !finished && elapsed < limit {
            elapsed += Self.step
            sinceTick += Self.step
            if sinceTick >= .milliseconds(250) {
                sinceTick = .zero
                carryOut(policy.tick(now: now))
            }
            for peer in peers.indices where !peers[peer].closed && !finished {
                peers[peer].allowance += peers[peer].rate * Self.step.seconds
                serve(peer)
            }
        }
    }

    /// The peer sends what its rate allows: blocks of its oldest request, END when one ends.
    private mutating func serve(_ peer: PeerID) {
        while !peers[peer].closed, !finished, let head = peers[peer].queue.first {
            if head.cancelled || head.remaining == 0 {
                peers[peer].queue.removeFirst()
                let piece = piece(of: head.id, peer: peer)
                let digest: SHA256Hash? = head.cancelled ? nil
                    : piece.map { peers[peer].corruptPieces.contains($0) ? SHA256Hash.of([0]) : manifest.pieceHashes[$0] }
                let (verdict, actions) = policy.requestEnded(from: peer, requestID: head.id, digest: digest, now: now)
                carryOut(actions)
                if case .store(let piece) = verdict {
                    let won = stored[piece] == nil
                    if won { stored[piece] = peer }
                    carryOut(policy.pieceStored(piece, by: peer, won: won, now: now))
                }
                continue
            }
            let block = min(Self.blockSize, head.remaining)
            guard peers[peer].allowance >= Double(block) else { return }
            peers[peer].allowance -= Double(block)
            peers[peer].queue[0].remaining -= block
            peers[peer].sentBytes += block
            if let limit = peers[peer].failsAfterBytes, peers[peer].sentBytes >= limit {
                peers[peer].closed = true
                carryOut(policy.connectionEnded(peer, reason: "connection reset", now: now))
                return
            }
            let (_, actions) = policy.blockArrived(from: peer, requestID: head.id, rawLength: block, wireLength: block, now: now)
            carryOut(actions)
        }
    }

    private func piece(of requestID: UInt32, peer: PeerID) -> Int? {
        policy.sessions[peer].requests.first { $0.id == requestID }?.piece
    }

    private mutating func carryOut(_ actions: [SwarmPolicy.Action]) {
        peakInFlight = max(peakInFlight, policy.inFlight)
        for action in actions {
            switch action {
            case .send(let peer):
                guard !peers[peer].closed else { continue }
                for command in policy.takeCommands(for: peer) {
                    switch command {
                    case .obtain(let id, _, let length):
                        peers[peer].queue.append((id, length, length, false))
                        if policy.sessions[peer].requests.first(where: { $0.id == id })?.isDuplicate == true { duplicates += 1 }
                    case .cancel(let id):
                        if let i = peers[peer].queue.firstIndex(where: { $0.id == id }) {
                            peers[peer].queue[i].cancelled = true
                            if peers[peer].queue[i].remaining == peers[peer].queue[i].length { peers[peer].withdrawn += 1 }
                        }
                    }
                }
            case .close(let peer, _):
                peers[peer].closed = true
                peers[peer].queue.removeAll()
            case .checkpoint:
                checkpoints += 1
            case .finished:
                finished = true
            }
        }
    }

    /// Bytes sent by every peer, and the file's size: their ratio is the waste.
    var totalSentBytes: Int { peers.reduce(0) { $0 + $1.sentBytes } }

    /// The time the download would take if every peer's whole rate went into the file.
    var idealSeconds: Double {
        Double(manifest.fileSize) / peers.reduce(0) { $0 + $1.rate }
    }
}
