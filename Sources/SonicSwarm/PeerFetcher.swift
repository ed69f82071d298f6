import Crypto
import Logging
import NIOCore
import NIOPosix
import SonicCompression
import SonicCore
import SonicNet
import SonicSeed
import SonicWire

/// One peer's connection of a swarm download. It decides nothing: it reports what arrives to
/// the ``SwarmEngine`` (and so to ``SwarmPolicy``) and carries out the answers.
///
/// It opens before the download has a manifest: HELLO and MANIFEST? leave together, the
/// answer goes to the download's ``SwarmStart``, and the connection then waits there until
/// the download has its file and policy.
///
/// Two tasks share the connection. The receiver reads: it inflates, hashes and stores each
/// block the policy keeps, and reports each END with the piece's SHA-256. The sender writes:
/// woken by the policy, it sends the connection's new OBTAIN-RANGE and CANCEL commands in
/// order. Blocks of a request arrive in order, so a piece is hashed as its blocks come in
/// and never buffered whole, except an endgame duplicate's copy (``PieceWriters``).
struct PeerFetcher: Sendable {
    let peer: Int
    let endpoint: Endpoint
    /// The index listed it as holding only part of the content (swarm feature): it says
    /// which pieces (BITFIELD) before it gets work, and HAVE as it verifies more.
    let isPartialHolder: Bool
    let contentID: ContentID
    /// Where the manifest goes and, once the download has started, its file and policy come from.
    let start: SwarmStart
    let settings: SwarmDownload.Settings
    let logger: Logger

    /// A request whose blocks are arriving: the I/O half of the policy's request.
    private struct PieceInProgress {
        var piece: Int
        /// Nil: the blocks are written through to the file; else a duplicate's copy,
        /// buffered until it verifies.
        var buffer: ByteBuffer?
        var hasher = SHA256()
        /// File offset of the request's first byte.
        var offset: UInt64
    }

    /// A protocol violation found while decoding (not a policy decision).
    struct ProtocolViolation: Error, CustomStringConvertible {
        var description: String
    }

    func run() async {
        var reason: String?
        do {
            try await fetch()
        } catch let refusal as SessionError where refusal.isIdentityMismatch {
            settings.pins.refused(refusal)
            logger.error("peer refused: \(refusal)")
            reason = "\(refusal)"
        } catch is SwarmEngine.Closed {
            // The policy decided it, and recorded why.
        } catch where Task.isCancelled {
            // The download is complete or interrupted: however the wait ended, not a failure.
        } catch {
            logger.info("peer dropped", metadata: ["error": "\(error)"])
            reason = "\(error)"
        }
        start.connectionEnded(peer, endpoint: endpoint, reason: reason)
    }

    /// A connection to `endpoint` for a fetcher: the peer must present the id the index gave
    /// for it, and a silent peer that owes data is dropped after the peer timeout.
    static func connect(to endpoint: Endpoint, settings: SwarmDownload.Settings) async throws -> FrameChannel {
        let timeout = TimeAmount(settings.peerTimeout)
        let connector = Connector(connectTimeout: .seconds(2), idleTimeout: nil, transport: settings.transport)
        return try await connector.connect(to: endpoint, expecting: settings.pins.expected(for: endpoint)) { pipeline in
            try pipeline.addHandler(StallDetector(timeout: timeout))
        }
    }

    private func fetch() async throws {
        let channel = try await Self.connect(to: endpoint, settings: settings)
        // What this download holds, told to a peer it trades with (BITFIELD, then HAVE).
        let (holdings, tell) = AsyncStream<Message>.makeStream()
        try await channel.executeThenClose { inbound, outbound in
            let identities = try await channel.transportIdentities()
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await receive(inbound: inbound, outbound: outbound, tell: tell, identities: identities) }
                group.addTask { try await send(outbound: outbound) }
                group.addTask { for await message in holdings { try await outbound.write(message) } }
                // Either half ending ends the connection.
                try await group.next()
                group.cancelAll()
            }
            try? await outbound.write(.exit)
        }
    }

    /// The sender: once the download has started, writes the commands the policy decided
    /// for this connection, in order.
    private func send(outbound: NIOAsyncChannelOutboundWriter<Message>) async throws {
        guard let engine = await start.context()?.engine else { return }
        for await _ in engine.wakeStream(for: peer) {
            guard let commands = engine.takeCommands(for: peer) else { return }
            for command in commands {
                switch command {
                case .obtain(let id, let offset, let length):
                    try await outbound.write(.obtainRange(RangeRequest(
                        requestID: id, contentID: contentID, offset: offset, length: UInt64(length))))
                case .cancel(let id):
                    try await outbound.write(.cancel(requestID: id))
                }
            }
        }
    }

    /// The receiver: the handshake and the manifest, then, once the download has started,
    /// every message until it ends or the policy closes the connection.
    private func receive(inbound: NIOAsyncChannelInboundStream<Message>,
                         outbound: NIOAsyncChannelOutboundWriter<Message>,
                         tell: AsyncStream<Message>.Continuation, identities: TransportIdentities?) async throws {
        var session = FrameSession(inbound: inbound, outbound: outbound)
        var features: Features = settings.acceptDeflate ? [.deflate] : []
        if isPartialHolder || settings.speaksSwarm { features.insert(.swarm) }
        // Announcing the upload port makes this a trader: it tells the peer what it holds.
        let trades = settings.speaksSwarm && settings.uploadPort > 0 && settings.serving != nil
        let hello = Hello(role: .client, listenPort: trades ? UInt16(settings.uploadPort) : 0, features: features,
                          agent: "sonic-get")
        // A swarm peer answers MANIFEST? with what it holds too; another is asked only while
        // the download has no manifest. The question leaves right behind HELLO.
        let asks = features.contains(.swarm) || !start.manifestKnown
        let welcome = try await session.clientHandshake(hello, secret: settings.secret, identities: identities,
                                                        then: asks ? .manifestRequest(contentID) : nil)
        logger.debug("connected", metadata: ["features": "\(welcome.features.rawValue)"])
        let swarm = welcome.features.contains(.swarm)
        guard swarm || !isPartialHolder else {
            throw ProtocolViolation(description: "listed as a partial holder, but does not speak the swarm feature")
        }
        let holdings = asks ? try await receiveManifest(&session, swarm: swarm) : nil
        guard let context = await start.context() else { return }
        if let holdings { try context.engine.holdingsArrived(from: peer, holdings) }
        if trades, swarm, let serving = context.serving {
            let held = serving.holdings
            tell.yield(.bitfield(contentID, held))
            let subscription = serving.subscribe(tell, after: held)
            defer { serving.unsubscribe(subscription) }
            try await exchange(&session, context)
        } else {
            try await exchange(&session, context)
        }
    }

    /// Reports every message to the engine and carries out its verdicts, until the download
    /// ends or the policy closes the connection.
    private func exchange(_ session: inout FrameSession, _ context: SwarmStart.Context) async throws {
        let (engine, writers, file, wholeFile, serving) =
            (context.engine, context.writers, context.file, context.wholeFile, context.serving)
        guard try engine.connected(peer) == .carryOn else { return }

        var pieces: [UInt32: PieceInProgress] = [:]
        // However this ends, the pieces it was writing may be written by others.
        defer { for progress in pieces.values { writers.released(progress.piece, by: peer) } }
        let codec = BlockCodec()
        /// One block's worth of memory for inflating write-through blocks.
        var scratch = ByteBufferAllocator().buffer(capacity: WireLimits.maximumBlockLength)
        while true {
            let message = try await session.receive()
            switch message {
            case .data(let block):
                let wire = WireSize.dataFrame(payload: block.payload.readableBytes)
                try await settings.rateLimiter?.acquire(wire)
                let verdict = try engine.blockArrived(from: peer, requestID: block.requestID,
                                                      rawLength: Int(block.rawLength), wireLength: wire)
                guard case .keep(let piece, let offset, let writesThrough) = verdict else { continue }
                var progress = pieces[block.requestID] ?? PieceInProgress(
                    piece: piece,
                    buffer: writesThrough && writers.claim(piece, for: peer)
                        ? nil : ByteBufferAllocator().buffer(capacity: engine.manifest.length(ofPiece: piece)),
                    offset: offset)
                let bytes: ByteBuffer
                do {
                    bytes = try decode(block, codec: codec, scratch: &scratch)
                } catch let error as BlockCodec.InflateError {
                    try engine.blockRejected(from: peer, requestID: block.requestID, corrupt: "bad deflate block: \(error)")
                    continue
                }
                let kept = try store(bytes, of: &progress, at: offset, into: writers)
                pieces[block.requestID] = progress
                if !kept {
                    // Another peer's copy took the piece over: stop this one.
                    try engine.blockRejected(from: peer, requestID: block.requestID, corrupt: nil)
                }
            case .end(let requestID):
                let progress = pieces.removeValue(forKey: requestID)
                let verdict: SwarmPolicy.EndVerdict
                do {
                    verdict = try engine.requestEnded(from: peer, requestID: requestID,
                                                      digest: progress.map { SHA256Hash($0.hasher.finalize()) })
                } catch {
                    if let progress { writers.released(progress.piece, by: peer) }
                    throw error
                }
                guard case .store(let piece) = verdict, let progress else {
                    if let progress { writers.released(progress.piece, by: peer) }
                    continue
                }
                let won = try await storeVerified(progress, into: writers)
                if won {
                    wholeFile.pieceVerified(piece, file: file)
                    serving?.verified(piece)
                }
                if try engine.pieceStored(piece, by: peer, won: won) == .finished { return }
            case .bitfield(let id, let holdings) where id == contentID:
                try engine.holdingsArrived(from: peer, holdings)
            case .have(let id, let piece) where id == contentID:
                try engine.haveArrived(from: peer, piece: Int(piece))
            case .error(let error) where error.requestID != 0:
                if let progress = pieces.removeValue(forKey: error.requestID) {
                    writers.released(progress.piece, by: peer)
                }
                try engine.requestRefused(by: peer, requestID: error.requestID, reason: error.description)
            case .error(let error):
                throw SessionError.remote(error)
            default:
                throw ProtocolViolation(description: "protocol violation: unexpected \(message.kind)")
            }
        }
    }

    /// The answer to MANIFEST?: the MANIFEST, offered to the download's start, then (from a
    /// swarm peer) the BITFIELD of what the peer holds.
    private func receiveManifest(_ session: inout FrameSession, swarm: Bool) async throws -> PieceBitfield? {
        guard case .manifest(let id, let bytes) = try await session.receiveReply(), id == contentID else {
            throw ProtocolViolation(description: "protocol violation: no MANIFEST of \(contentID.shortHex)")
        }
        try start.offer(bytes, from: endpoint)
        guard swarm else { return nil }
        guard case .bitfield(let holdingsID, let holdings) = try await session.receiveReply(), holdingsID == contentID else {
            throw ProtocolViolation(description: "protocol violation: no BITFIELD after the MANIFEST")
        }
        return holdings
    }

    /// The block's raw bytes: its payload, or the payload inflated into `scratch`.
    private func decode(_ block: DataBlock, codec: BlockCodec, scratch: inout ByteBuffer) throws -> ByteBuffer {
        switch block.encoding {
        case .raw:
            return block.payload
        case .deflate:
            guard settings.acceptDeflate else {
                throw ProtocolViolation(description: "protocol violation: deflated block without negotiation")
            }
            scratch.clear()
            try codec.decompress(block.payload, rawLength: Int(block.rawLength), into: &scratch)
            return scratch
        }
    }

    /// Hashes a block and writes it through to the file (or adds it to a duplicate's buffer).
    /// False if the piece was taken over by another peer's copy (nothing written).
    private func store(_ bytes: ByteBuffer, of progress: inout PieceInProgress, at offset: UInt64,
                       into writers: PieceWriters) throws -> Bool {
        bytes.withUnsafeReadableBytes { raw in
            progress.hasher.update(bufferPointer: raw)
            progress.buffer?.writeBytes(raw)
        }
        guard progress.buffer == nil else { return true }
        // A block's write-through stays on this task: a 256 KiB copy into the page cache,
        // whose writeback starts asynchronously. A hop to NIO's thread pool per block
        // measured 7–15 % slower uncapped (docs/PERFORMANCE.md); what really waits on the
        // disk (fdatasync, rehashing, the record, the rename) runs on the thread pool.
        return try bytes.withUnsafeReadableBytes {
            try writers.write($0, at: offset, piece: progress.piece, from: peer)
        }
    }

    /// Stores a verified piece: writes a duplicate's buffer whole, or confirms that the
    /// bytes written through are still this connection's. False if another copy won.
    private func storeVerified(_ progress: PieceInProgress, into writers: PieceWriters) async throws -> Bool {
        guard let buffer = progress.buffer else {
            return try writers.verified(progress.piece, by: peer, buffered: nil, at: progress.offset)
        }
        // A duplicate's copy is written whole: a piece of file I/O, on NIO's thread pool.
        let (piece, peer, offset) = (progress.piece, peer, progress.offset)
        return try await NIOThreadPool.singleton.runIfActive {
            try buffer.withUnsafeReadableBytes { try writers.verified(piece, by: peer, buffered: $0, at: offset) }
        }
    }
}
