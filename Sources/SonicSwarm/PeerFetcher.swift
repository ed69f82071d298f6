import Crypto
import Logging
import NIOCore
import NIOPosix
import SonicCompression
import SonicCore
import SonicNet
import SonicWire

/// One peer's share of a swarm download: a connection that keeps up to `requestsPerPeer`
/// OBTAIN-RANGE requests in flight, pulls each next piece from the shared scheduler, checks
/// every piece's SHA-256 as it completes and writes only verified pieces into the partial file.
///
/// Blocks of a request arrive in order, so a piece is hashed incrementally as its blocks come
/// in and buffered only until its last block (memory: requests in flight × piece size).
struct PeerFetcher: Sendable {
    let peer: Int
    let endpoint: Endpoint
    let contentID: ContentID
    let swarm: SwarmState
    let file: PartialFile
    let writers: PieceWriters
    let wholeFile: WholeFileHasher
    let settings: SwarmDownload.Settings
    let logger: Logger

    /// One OBTAIN-RANGE in flight.
    private struct Request {
        var id: UInt32
        var piece: Int
        var offset: UInt64
        var length: Int
        /// Nil: this request writes its blocks through to the file (``PieceWriters``);
        /// else a duplicate's copy, buffered until it verifies.
        var buffer: ByteBuffer?
        /// Bytes of the piece received so far.
        var received = 0
        var hasher = SHA256()
        let sentAt = ContinuousClock.now
        /// When CANCEL was sent (another peer's copy won): what still arrives is discarded,
        /// and a peer that goes on sending past the peer timeout is dropped.
        var cancelledAt: ContinuousClock.Instant?
        var cancelled: Bool { cancelledAt != nil }
    }

    /// Why this peer's part ended; the download goes on with the others.
    enum PeerProblem: Error, CustomStringConvertible {
        case corruptPiece(Int, String)
        case protocolViolation(String)
        case contentGone(String)

        var description: String {
            switch self {
            case .corruptPiece(let piece, let why): "piece \(piece) failed verification (\(why))"
            case .protocolViolation(let why): "protocol violation: \(why)"
            case .contentGone(let why): "peer no longer serves this content: \(why)"
            }
        }
    }

    func run() async {
        do {
            try await fetch()
            swarm.peerFinished(peer)
        } catch PeerProblem.corruptPiece {
            // Already recorded (banned) where it was detected.
        } catch where Task.isCancelled {
            // The download is complete or interrupted: however the wait ended, not a failure.
            swarm.peerFinished(peer)
        } catch {
            logger.info("peer dropped", metadata: ["error": "\(error)"])
            swarm.peerFailed(peer, reason: "\(error)")
        }
    }

    private func fetch() async throws {
        let timeout = TimeAmount(settings.peerTimeout)
        let connector = Connector(connectTimeout: .seconds(2), idleTimeout: nil)
        let channel = try await connector.connect(to: endpoint) { pipeline in
            try pipeline.addHandler(StallDetector(timeout: timeout))
        }
        try await channel.executeThenClose { inbound, outbound in
            var session = FrameSession(inbound: inbound, outbound: outbound)
            let welcome = try await session.clientHandshake(
                Hello(role: .client, features: settings.acceptDeflate ? [.deflate] : [], agent: "sonic-get"),
                secret: settings.secret)
            swarm.connected(peer)
            logger.debug("connected", metadata: ["features": "\(welcome.features.rawValue)"])
            try await exchange(&session)
            try? await session.send(.exit)
        }
    }

    private func exchange(_ session: inout FrameSession) async throws {
        var pipeline: [Request] = []
        // Whatever way this ends, its requests no longer count against the in-flight budget.
        defer {
            for request in pipeline { writers.released(request.piece, by: peer) }
            swarm.requestsEnded(peer: peer, pieces: pipeline.map(\.piece))
        }
        var nextID: UInt32 = 1
        let codec = BlockCodec()
        /// One block's worth of memory for inflating write-through blocks.
        var scratch = ByteBufferAllocator().buffer(capacity: WireLimits.maximumBlockLength)
        while true {
            // Stop fetching pieces that another peer already delivered.
            let cancelled = swarm.takeCancellations(for: peer)
            if !cancelled.isEmpty {
                for i in pipeline.indices where cancelled.contains(pipeline[i].piece) && !pipeline[i].cancelled {
                    pipeline[i].cancelledAt = .now
                    try await session.send(.cancel(requestID: pipeline[i].id))
                }
            }
            // Keep the pipeline full. The change generation is read first, so that a change
            // while looking for work is not missed by the wait below.
            let seen = swarm.changes.generation
            while pipeline.count < settings.requestsPerPeer, let assignment = swarm.nextPiece(for: peer, idle: pipeline.isEmpty, now: .now) {
                let range = swarm.manifest.range(ofPiece: assignment.piece)
                let length = Int(range.upperBound - range.lowerBound)
                let writesThrough = writers.claim(assignment.piece, for: peer)
                let request = Request(id: nextID, piece: assignment.piece, offset: range.lowerBound, length: length,
                                      buffer: writesThrough ? nil : ByteBufferAllocator().buffer(capacity: length))
                nextID &+= 1
                try await session.send(.obtainRange(RangeRequest(
                    requestID: request.id, contentID: contentID, offset: range.lowerBound, length: UInt64(length))))
                pipeline.append(request)
            }
            if pipeline.isEmpty {
                if swarm.isComplete || swarm.isBanned(peer) { return }
                // Nothing to do right now (endgame: every missing piece has enough requesters,
                // or the tail rules leave the rest to faster peers): wait for a change.
                await swarm.changes.wait(since: seen)
                try Task.checkCancellation()
                continue
            }

            let message = try await session.receive()
            switch message {
            case .data(let block):
                guard block.requestID == pipeline[0].id else {
                    throw PeerProblem.protocolViolation("data for request \(block.requestID), expected \(pipeline[0].id)")
                }
                let wire = WireSize.dataFrame(payload: block.payload.readableBytes)
                swarm.countWire(wire, peer: peer)
                try await settings.rateLimiter?.acquire(wire)
                if let cancelledAt = pipeline[0].cancelledAt {
                    // A peer that ignores CANCEL would hold this connection (and, at the end,
                    // the whole download) for as long as it drips bytes.
                    guard ContinuousClock.now - cancelledAt < settings.peerTimeout else {
                        throw PeerProblem.protocolViolation("still sending a request cancelled \(settings.peerTimeout) ago")
                    }
                    continue
                }
                if swarm.isVerified(pipeline[0].piece) {
                    pipeline[0].cancelledAt = .now
                    try await session.send(.cancel(requestID: pipeline[0].id))
                    continue
                }
                guard try append(block, to: &pipeline[0], codec: codec, scratch: &scratch) else {
                    // Another peer's copy took the piece over: stop this one.
                    pipeline[0].cancelledAt = .now
                    try await session.send(.cancel(requestID: pipeline[0].id))
                    continue
                }
            case .end(let requestID):
                guard requestID == pipeline[0].id else {
                    throw PeerProblem.protocolViolation("END for request \(requestID), expected \(pipeline[0].id)")
                }
                let request = pipeline.removeFirst()
                swarm.requestsEnded(peer: peer, pieces: [request.piece])
                try await finish(request)
                // The last piece is in: nothing this peer still sends is needed.
                if swarm.isComplete { return }
            case .error(let error) where error.requestID != 0:
                guard let index = pipeline.firstIndex(where: { $0.id == error.requestID }) else {
                    throw PeerProblem.protocolViolation("ERROR for unknown request \(error.requestID)")
                }
                let request = pipeline.remove(at: index)
                writers.released(request.piece, by: peer)
                swarm.requestsEnded(peer: peer, pieces: [request.piece])
                swarm.abandoned(request.piece, by: peer)
                // The peer's copy is gone or changed: nothing more to get from it.
                throw PeerProblem.contentGone(error.description)
            case .error(let error):
                throw SessionError.remote(error)
            default:
                throw PeerProblem.protocolViolation("unexpected \(message.kind)")
            }
        }
    }

    /// Takes a block of the request's piece: inflates it if needed, hashes it, and writes it
    /// through to the file (or adds it to a duplicate's buffer). False if the piece was taken
    /// over by another peer's copy (nothing written).
    private func append(_ block: DataBlock, to request: inout Request, codec: BlockCodec,
                        scratch: inout ByteBuffer) throws -> Bool {
        let rawLength = Int(block.rawLength)
        guard request.received + rawLength <= request.length else {
            swarm.corrupt(request.piece, from: peer, reason: "more bytes than the piece holds")
            throw PeerProblem.corruptPiece(request.piece, "more bytes than the piece holds")
        }
        var bytes: ByteBuffer
        switch block.encoding {
        case .raw:
            bytes = block.payload
        case .deflate:
            guard settings.acceptDeflate else {
                throw PeerProblem.protocolViolation("deflated block without negotiation")
            }
            scratch.clear()
            do {
                try codec.decompress(block.payload, rawLength: rawLength, into: &scratch)
            } catch {
                swarm.corrupt(request.piece, from: peer, reason: "bad deflate block: \(error)")
                throw PeerProblem.corruptPiece(request.piece, "bad deflate block: \(error)")
            }
            bytes = scratch
        }
        let offset = request.offset + UInt64(request.received)
        bytes.withUnsafeReadableBytes { raw in
            request.hasher.update(bufferPointer: raw)
            request.buffer?.writeBytes(raw)
        }
        if request.buffer == nil {
            // A block's write-through stays on this task: a 256 KiB copy into the page cache,
            // whose writeback starts asynchronously. A hop to NIO's thread pool per block
            // measured 7–15 % slower uncapped (docs/PERFORMANCE.md); what really waits on the
            // disk (fdatasync, rehashing, the record, the rename) runs on the thread pool.
            let kept = try bytes.withUnsafeReadableBytes {
                try writers.write($0, at: offset, piece: request.piece, from: peer)
            }
            guard kept else { return false }
        }
        request.received += rawLength
        swarm.receiving(rawLength, peer: peer, piece: request.piece, now: .now)
        return true
    }

    /// A request ended: verify its piece (and write a duplicate's buffer), or account for
    /// why not.
    private func finish(_ request: Request) async throws {
        if request.cancelled || swarm.isVerified(request.piece) {
            writers.released(request.piece, by: peer)
            swarm.abandoned(request.piece, by: peer)
            return
        }
        guard request.received == request.length else {
            let why = "\(request.received) of \(request.length) bytes"
            writers.released(request.piece, by: peer)
            swarm.corrupt(request.piece, from: peer, reason: why)
            throw PeerProblem.corruptPiece(request.piece, why)
        }
        let digest = SHA256Hash(request.hasher.finalize())
        guard digest == swarm.manifest.pieceHashes[request.piece] else {
            logger.warning("bad piece: peer banned for this download", metadata: ["piece": "\(request.piece)"])
            writers.released(request.piece, by: peer)
            swarm.corrupt(request.piece, from: peer, reason: "SHA-256 mismatch")
            throw PeerProblem.corruptPiece(request.piece, "SHA-256 mismatch")
        }
        let won: Bool
        if let buffer = request.buffer {
            // A duplicate's copy is written whole: a piece of file I/O, on NIO's thread pool.
            let (writers, piece, peer, offset) = (writers, request.piece, peer, request.offset)
            won = try await NIOThreadPool.singleton.runIfActive {
                try buffer.withUnsafeReadableBytes { try writers.verified(piece, by: peer, buffered: $0, at: offset) }
            }
        } else {
            // Written through already: only the ownership check remains.
            won = try writers.verified(request.piece, by: peer, buffered: nil, at: request.offset)
        }
        guard won else {
            swarm.abandoned(request.piece, by: peer)
            return
        }
        wholeFile.pieceVerified(request.piece, file: file)
        swarm.verified(request.piece, by: peer, after: (ContinuousClock.now - request.sentAt).seconds)
        logger.trace("verified", metadata: ["piece": "\(request.piece)", "seconds": "\((ContinuousClock.now - request.sentAt).seconds)"])
    }
}
