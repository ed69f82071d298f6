import Crypto
import Logging
import NIOCore
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
    let wholeFile: WholeFileHasher
    let settings: SwarmDownload.Settings
    let logger: Logger

    /// One OBTAIN-RANGE in flight.
    private struct Request {
        var id: UInt32
        var piece: Int
        var length: Int
        var buffer: ByteBuffer
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
        defer { swarm.requestsEnded(peer: peer, pieces: pipeline.map(\.piece)) }
        var nextID: UInt32 = 1
        let codec = BlockCodec()
        while true {
            // Stop fetching pieces that another peer already delivered.
            let cancelled = swarm.takeCancellations(for: peer)
            if !cancelled.isEmpty {
                for i in pipeline.indices where cancelled.contains(pipeline[i].piece) && !pipeline[i].cancelled {
                    pipeline[i].cancelledAt = .now
                    try await session.send(.cancel(requestID: pipeline[i].id))
                }
            }
            // Keep the pipeline full.
            while pipeline.count < settings.requestsPerPeer, let assignment = swarm.nextPiece(for: peer, idle: pipeline.isEmpty, now: .now) {
                let range = swarm.manifest.range(ofPiece: assignment.piece)
                let length = Int(range.upperBound - range.lowerBound)
                let request = Request(id: nextID, piece: assignment.piece, length: length,
                                      buffer: ByteBufferAllocator().buffer(capacity: length))
                nextID &+= 1
                try await session.send(.obtainRange(RangeRequest(
                    requestID: request.id, contentID: contentID, offset: range.lowerBound, length: UInt64(length))))
                pipeline.append(request)
            }
            if pipeline.isEmpty {
                if swarm.isComplete || swarm.isBanned(peer) { return }
                // Nothing to do right now (endgame: every missing piece has enough requesters).
                try await Task.sleep(for: .milliseconds(10))
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
                try append(block, to: &pipeline[0], codec: codec)
            case .end(let requestID):
                guard requestID == pipeline[0].id else {
                    throw PeerProblem.protocolViolation("END for request \(requestID), expected \(pipeline[0].id)")
                }
                let request = pipeline.removeFirst()
                swarm.requestsEnded(peer: peer, pieces: [request.piece])
                try finish(request)
                // The last piece is in: nothing this peer still sends is needed.
                if swarm.isComplete { return }
            case .error(let error) where error.requestID != 0:
                guard let index = pipeline.firstIndex(where: { $0.id == error.requestID }) else {
                    throw PeerProblem.protocolViolation("ERROR for unknown request \(error.requestID)")
                }
                let request = pipeline.remove(at: index)
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

    /// Adds a block's bytes to the request's piece buffer (inflating if needed) and hash.
    private func append(_ block: DataBlock, to request: inout Request, codec: BlockCodec) throws {
        let rawLength = Int(block.rawLength)
        guard request.buffer.readableBytes + rawLength <= request.length else {
            swarm.corrupt(request.piece, from: peer, reason: "more bytes than the piece holds")
            throw PeerProblem.corruptPiece(request.piece, "more bytes than the piece holds")
        }
        let start = request.buffer.writerIndex
        switch block.encoding {
        case .raw:
            request.buffer.writeImmutableBuffer(block.payload)
        case .deflate:
            guard settings.acceptDeflate else {
                throw PeerProblem.protocolViolation("deflated block without negotiation")
            }
            do {
                try codec.decompress(block.payload, rawLength: rawLength, into: &request.buffer)
            } catch {
                swarm.corrupt(request.piece, from: peer, reason: "bad deflate block: \(error)")
                throw PeerProblem.corruptPiece(request.piece, "bad deflate block: \(error)")
            }
        }
        request.buffer.withUnsafeReadableBytes { all in
            request.hasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: all[(start - request.buffer.readerIndex)...]))
        }
        swarm.receiving(request.buffer.writerIndex - start, peer: peer, piece: request.piece, now: .now)
    }

    /// A request ended: verify and write its piece, or account for why not.
    private func finish(_ request: Request) throws {
        if request.cancelled || swarm.isVerified(request.piece) {
            swarm.abandoned(request.piece, by: peer)
            return
        }
        guard request.buffer.readableBytes == request.length else {
            let why = "\(request.buffer.readableBytes) of \(request.length) bytes"
            swarm.corrupt(request.piece, from: peer, reason: why)
            throw PeerProblem.corruptPiece(request.piece, why)
        }
        let digest = SHA256Hash(request.hasher.finalize())
        guard digest == swarm.manifest.pieceHashes[request.piece] else {
            logger.warning("bad piece: peer banned for this download", metadata: ["piece": "\(request.piece)"])
            swarm.corrupt(request.piece, from: peer, reason: "SHA-256 mismatch")
            throw PeerProblem.corruptPiece(request.piece, "SHA-256 mismatch")
        }
        try request.buffer.withUnsafeReadableBytes { bytes in
            try file.write(bytes, at: swarm.manifest.range(ofPiece: request.piece).lowerBound)
        }
        wholeFile.pieceVerified(request.piece, file: file)
        swarm.verified(request.piece, by: peer, after: (ContinuousClock.now - request.sentAt).seconds)
        logger.trace("verified", metadata: ["piece": "\(request.piece)", "seconds": "\((ContinuousClock.now - request.sentAt).seconds)"])
    }
}
