import Logging
import NIOPosix
import SonicCompression
import SonicCore
import SonicNet
import SonicSeed
import SonicWire

/// Downloads one content from many peers at once into a target file.
///
/// Every peer gets its own ``PeerFetcher``; all pull pieces from one scheduler, so faster
/// peers get more pieces and a slow or failing one never holds a fixed share. Progress is
/// checkpointed into a resume record four times a second; the target appears only when every piece
/// is verified.
public enum SwarmDownload {
    public struct Settings: Sendable {
        /// OBTAIN-RANGE requests kept in flight per peer.
        public var requestsPerPeer: Int
        /// A peer that owes data and sends nothing this long is dropped.
        public var peerTimeout: Duration
        public var acceptDeflate: Bool
        /// Shared limit on wire bytes received (all peers together).
        public var rateLimiter: RateLimiter?
        /// Requesters per piece in endgame.
        public var maxRequestersPerPiece: Int
        /// Piece bytes in flight across all peers (beyond one request per peer): the memory
        /// bound of a download, whatever the number of peers (Syncthing uses 32 MiB too).
        public var maximumInFlightBytes: Int
        /// The members-only network secret, if any.
        public var secret: NetworkSecret?
        /// TLS with our identity (the default of the programs), or plain TCP.
        public var transport: TransportSecurity = .off
        /// The peer id each peer must present, as the index gave them; refusals are recorded there.
        public var pins = PeerPins()
        /// Asked for the holders known now (the index asked again): half a second after the
        /// start, then after doubling delays up to ``discoveryInterval``, then at that interval
        /// (``discoveryDelay(after:interval:)``). New ones are connected, up to
        /// ``maximumPeers`` in all. Nil: the first peers only.
        public var discover: (@Sendable () async -> Holders)?
        public var discoveryInterval: Duration = .seconds(10)
        /// Connections at most, the first ones included.
        public var maximumPeers = 32
        /// Speak the swarm feature with every peer: each says which pieces it offers
        /// (BITFIELD, HAVE). Off: only peers listed as partial holders are asked.
        public var speaksSwarm = true
        /// The port ``serving`` is reachable on (0: none). Announced to peers, with what this
        /// download holds, so that complete holders may offer it pieces nobody else has yet.
        public var uploadPort = 0
        /// Where to offer the pieces verified so far to other peers while downloading (the
        /// swarm feature): the download is registered there at its start and removed before
        /// the file is renamed into place. Nil: nothing is served.
        public var serving: PartialHoldings?

        public init(requestsPerPeer: Int = 2, peerTimeout: Duration = .seconds(5), acceptDeflate: Bool = true,
                    rateLimiter: RateLimiter? = nil, maxRequestersPerPiece: Int = 2,
                    maximumInFlightBytes: Int = 32 << 20, secret: NetworkSecret? = nil, serving: PartialHoldings? = nil) {
            self.secret = secret
            self.serving = serving
            self.maximumInFlightBytes = maximumInFlightBytes
            self.requestsPerPeer = requestsPerPeer
            self.peerTimeout = peerTimeout
            self.acceptDeflate = acceptDeflate
            self.rateLimiter = rateLimiter
            self.maxRequestersPerPiece = maxRequestersPerPiece
        }
    }

    public struct PeerReport: Sendable {
        public var endpoint: Endpoint
        /// Verified file bytes this peer delivered.
        public var fileBytes: UInt64
        /// Bytes received from it on the wire (frames, compressed or not, wasted or not).
        public var wireBytes: UInt64
        public var pieces: Int
        public var failures: Int
        public var banned: Bool
        public var lastError: String?
    }

    public struct Progress: Sendable {
        public var verifiedBytes: UInt64
        /// Bytes received into pieces still in flight.
        public var receivingBytes: UInt64
        /// Bytes of pieces found verified in the partial file at the start (a resume).
        public var reusedBytes: UInt64
        public var reusedPieces: Int
        public var pieceCount: Int
        public var totalBytes: UInt64
        /// The whole file's SHA-256, as the manifest gives it.
        public var fileHash: SHA256Hash
        public var wireBytes: UInt64
        public var activePeers: Int
        public var elapsed: Duration
        /// Every peer so far, with what it delivered.
        public var peers: [PeerReport]
    }

    public struct Report: Sendable {
        public var targetPath: String
        public var manifest: Manifest
        public var contentID: ContentID
        public var elapsed: Duration
        public var peers: [PeerReport]
        public var retriedPieces: Int
        public var reusedPieces: Int
        /// Bytes of the reused pieces: not fetched by this run, so not part of its rate.
        public var reusedBytes: UInt64
        public var wireBytes: UInt64 { peers.reduce(0) { $0 + $1.wireBytes } }
    }

    /// No peer served the content's manifest: each one ended without it, for the reason given.
    public struct NoManifest: Error, CustomStringConvertible {
        public var contentID: ContentID
        public var attempts: [(Endpoint, String)]
        public var description: String {
            "no peer served the manifest of \(contentID.shortHex)"
                + (attempts.isEmpty ? "" : ": " + attempts.map { "\($0.0): \($0.1)" }.joined(separator: "; "))
        }
    }

    /// Not every piece could be fetched; the partial file and resume record are kept.
    public struct Incomplete: Error, CustomStringConvertible {
        public var missingPieces: [Int]
        public var pieceCount: Int
        public var report: Report
        public var description: String {
            let list = missingPieces.prefix(8).map(String.init).joined(separator: ", ")
            let more = missingPieces.count > 8 ? ", …" : ""
            return "\(missingPieces.count) of \(pieceCount) pieces missing (\(list)\(more)) and no peer left to ask; "
                + "run the same command again to resume"
        }
    }

    /// Every piece matched its SHA-256, but together they do not hash to the manifest's file
    /// SHA-256: the content itself is forged (a genuine file's hash beside other bytes' piece
    /// hashes). Every peer that served it is banned; the partial file is deleted, never committed.
    public struct InconsistentContent: Error, CustomStringConvertible {
        public var claimed: SHA256Hash
        public var actual: SHA256Hash
        public var report: Report
        public var description: String {
            "the pieces verify but the whole file hashes to \(actual.hex), not the SHA-256 its manifest claims "
                + "(\(claimed.hex)); the content is forged, its peers are banned and nothing was saved"
        }
    }

    /// Holders of the content, as the index lists them.
    public struct Holders: Sendable, Equatable {
        /// Peers with the whole content.
        public var complete: [Endpoint]
        /// Peers downloading it that serve their verified pieces (swarm feature).
        public var partial: [Endpoint]

        public init(complete: [Endpoint] = [], partial: [Endpoint] = []) {
            self.complete = complete
            self.partial = partial
        }

        /// The holders `result` lists, leaving out those `excluding` says are this peer itself
        /// (its own upload server, announced as a partial holder). A peer listed as both
        /// counts as complete.
        public init(_ result: SearchResult?, excluding isSelf: (Endpoint) -> Bool = { _ in false }) {
            complete = (result?.peers ?? []).filter { !isSelf($0) }
            let listed = Set(complete)
            partial = (result?.partialPeers ?? []).filter { !isSelf($0) && !listed.contains($0) }
        }

        /// The first `limit` holders to connect, complete ones first, and which of them are partial.
        public func first(_ limit: Int) -> (peers: [Endpoint], partial: Set<Endpoint>) {
            let partialShare = Array(partial.prefix(max(0, limit - complete.count)))
            return (Array(complete.prefix(limit)) + partialShare, Set(partialShare))
        }
    }

    /// How long discovery waits before asking the index again, after `asks` asks: a swarm
    /// grows fastest at its start (a flash crowd registers within a second), so the first
    /// asks come soon — 0.5 s, 1 s, 2 s, … — and then every `interval`.
    public static func discoveryDelay(after asks: Int, interval: Duration) -> Duration {
        let early = Duration.milliseconds(500) * (1 << min(asks, 20))
        return min(early, interval)
    }

    /// Fetches the content `contentID` names from `peers` into `targetPath`.
    ///
    /// The connections open at once and each asks its peer for the manifest: the first one
    /// whose SHA-256 is `contentID` (and, given `expectedSize`, of that size) starts the
    /// download (``SwarmStart``). `partialHolders`: those of `peers` that hold only part of
    /// it (swarm feature: they say which pieces, and more as they verify them).
    /// Throws ``NoManifest`` if no peer serves the manifest.
    public static func run(
        contentID: ContentID, expectedSize: UInt64? = nil, peers: [Endpoint], partialHolders: Set<Endpoint> = [],
        targetPath: String, settings: Settings, logger: Logger,
        progress: (@Sendable (Progress) -> Void)? = nil
    ) async throws -> Report {
        let start = ContinuousClock.now
        let opening = SwarmStart(contentID: contentID, expectedSize: expectedSize, connections: peers.count)
        // However the download ends, the partial file is no longer offered: it is renamed,
        // kept for a resume, or deleted.
        defer { settings.serving?.remove(contentID) }

        let (transfer, ending) = try await withThrowingTaskGroup(of: Void.self) {
            group -> (SwarmTransfer, Result<SHA256Hash?, any Error>?) in
            let (events, event) = AsyncStream<FetcherEvent>.makeStream()
            var running = 0
            func connect(_ peer: Int, _ endpoint: Endpoint, partial: Bool) {
                var peerLogger = logger
                peerLogger[metadataKey: "peer"] = "\(endpoint)"
                let fetcher = PeerFetcher(peer: peer, endpoint: endpoint, isPartialHolder: partial, contentID: contentID,
                                          start: opening, settings: settings, logger: peerLogger)
                running += 1
                group.addTask {
                    await fetcher.run()
                    event.yield(.connectionEnded)
                }
            }
            for (peer, endpoint) in peers.enumerated() {
                connect(peer, endpoint, partial: partialHolders.contains(endpoint))
            }
            let transfer: SwarmTransfer
            do {
                // Given the size, the partial file is opened and its space reserved while the
                // connections handshake.
                async let openedEarly: PartialFile? = if let expectedSize {
                    try await SwarmTransfer.openPartialFile(targetPath, size: expectedSize)
                } else {
                    nil
                }
                let manifest: Manifest
                do {
                    manifest = try await opening.manifest()
                } catch {
                    // Without a manifest nothing is kept that this run created.
                    if let file = try? await openedEarly, file.startedEmpty { file.discard() }
                    throw error
                }
                let file: PartialFile
                if let early = try await openedEarly {
                    file = early
                } else {
                    file = try await SwarmTransfer.openPartialFile(targetPath, size: manifest.fileSize)
                }
                transfer = try await SwarmTransfer(contentID: contentID, manifest: manifest, file: file, peers: peers,
                                                   targetPath: targetPath, settings: settings, logger: logger)
            } catch {
                opening.abandon()
                group.cancelAll()
                throw error
            }
            opening.begin(transfer.context)
            let engine = transfer.engine

            group.addTask {
                // Once cancelled (complete, or interrupted), the end of the download saves or commits.
                for await _ in engine.checkpointsDue where !Task.isCancelled { await transfer.checkpoint() }
            }
            group.addTask {
                while !Task.isCancelled {
                    try? await Task.sleep(for: .milliseconds(250))
                    // Time passing is an event too: the age rule for duplicates before
                    // throughput is known, and the resume record.
                    engine.tick()
                    progress?(transfer.progress(startedAt: start))
                }
            }
            group.addTask {
                for await _ in engine.completion { event.yield(.completed) }
            }
            if let discover = settings.discover {
                // Holders that appear during the download (the index asked again).
                group.addTask {
                    var asks = 0
                    while !Task.isCancelled {
                        try? await Task.sleep(for: discoveryDelay(after: asks, interval: settings.discoveryInterval))
                        asks += 1
                        guard !Task.isCancelled else { return }
                        let found = await discover()
                        let partial = Set(found.partial).subtracting(found.complete)
                        let joined = engine.peersDiscovered(found.complete + found.partial)
                        if !joined.isEmpty {
                            event.yield(.peersJoined(joined.map { ($0.peer, $0.endpoint, partial.contains($0.endpoint)) }))
                        }
                    }
                }
            }
            // Once the last piece is stored, the other connections may be waiting on a peer
            // that is slow, or that ignores CANCEL: stop them all, while the file is hashed
            // and flushed. With no connection left, the download ends incomplete.
            if running > 0 && !engine.isComplete {
                for await happened in events {
                    switch happened {
                    case .connectionEnded: running -= 1
                    case .completed: break
                    case .peersJoined(let joined):
                        for (peer, endpoint, partial) in joined { connect(peer, endpoint, partial: partial) }
                    }
                    if engine.isComplete || running == 0 { break }
                }
            }
            event.finish()
            group.cancelAll()
            // A complete download hashes and flushes while the connections close.
            guard engine.isComplete, !Task.isCancelled else { return (transfer, nil) }
            do { return (transfer, .success(try await transfer.hashAndFlush())) } catch { return (transfer, .failure(error)) }
        }

        if Task.isCancelled {
            // Saved even though this task is cancelled: the record is what makes a resume cheap.
            await Task.detached { await transfer.checkpoint() }.value
            throw CancellationError()
        }
        guard let ending else {
            await transfer.checkpoint()
            let s = transfer.engine.snapshot(includePieceLists: true)
            throw Incomplete(missingPieces: s.missingPieces, pieceCount: transfer.manifest.pieceCount,
                             report: transfer.report(startedAt: start))
        }
        guard let digest = try ending.get() else {
            throw FileError(path: transfer.file.path, message: "verified pieces are missing from the whole-file hash")
        }
        guard digest == transfer.manifest.fileHash else {
            transfer.discard()
            throw InconsistentContent(claimed: transfer.manifest.fileHash, actual: digest,
                                      report: transfer.report(startedAt: start, banningAll: true))
        }
        settings.serving?.remove(contentID)
        try await transfer.commit()
        return transfer.report(startedAt: start)
    }

    private enum FetcherEvent: Sendable {
        case connectionEnded
        /// Every piece is verified and stored.
        case completed
        case peersJoined([(peer: Int, endpoint: Endpoint, partial: Bool)])
    }

    /// Pieces already in the partial file, each verified against its SHA-256 again (a resume
    /// record is a hint, never proof: it may be stale or tampered with). The record, when it is
    /// for this content, says which pieces to check; without one every piece is checked.
    /// Each good piece also goes into the whole-file hash.
    static func resumablePieces(contentID: ContentID, manifest: Manifest, file: PartialFile, recordPath: String,
                                wholeFile: WholeFileHasher) -> [Int] {
        guard file.existed else { return [] }
        let claimed = ResumeRecord.load(from: recordPath)?.verifiedPieces(for: contentID, pieceCount: manifest.pieceCount)
        let good = file.verifiedPieces(of: manifest, candidates: claimed ?? Array(0..<manifest.pieceCount))
        for piece in good { wholeFile.pieceVerified(piece, file: file) }
        return good
    }
}
