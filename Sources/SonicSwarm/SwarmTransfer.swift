import Logging
import NIOPosix
import SonicCore
import SonicSeed

/// The file side and the policy of a download, made once its manifest is known: the
/// partial file, what a resume finds in it, the whole-file hash, the resume record, the
/// engine. ``SwarmDownload/run`` drives it; the connections get its ``context``.
struct SwarmTransfer: Sendable {
    let contentID: ContentID
    let manifest: Manifest
    let targetPath: String
    let file: PartialFile
    let recordPath: String
    let wholeFile: WholeFileHasher
    let engine: SwarmEngine
    /// This download as offered to other peers while it runs (swarm feature).
    let holding: PartialHolding?
    /// Pieces found verified in the partial file at the start (a resume).
    let reused: [Int]
    let reusedBytes: UInt64
    let context: SwarmStart.Context
    let logger: Logger

    /// Blocking file work (rehashing, fdatasync, the record, the rename) runs on NIO's
    /// thread pool, never on the two threads of the concurrency pool.
    static var blocking: NIOThreadPool { .singleton }

    /// Finds what a resume can keep in `file` (the partial file at `targetPath`, opened for
    /// `manifest`'s size) and registers the download with `settings.serving`; `peers` are
    /// the connections already open.
    init(contentID: ContentID, manifest: Manifest, file: PartialFile, peers: [Endpoint], targetPath: String,
         settings: SwarmDownload.Settings, logger: Logger) async throws {
        let recordPath = ResumeRecord.path(for: targetPath)
        let wholeFile = WholeFileHasher(manifest: manifest)
        // A file this run created has nothing to reuse (`resumablePieces` checks that first),
        // and a small download no time to spare for a trip to the thread pool to learn it.
        let reused = !file.existed ? [] : try await Self.blocking.runIfActive {
            SwarmDownload.resumablePieces(contentID: contentID, manifest: manifest, file: file, recordPath: recordPath,
                                          wholeFile: wholeFile)
        }
        if !reused.isEmpty {
            logger.info("resuming", metadata: ["verified-pieces": "\(reused.count)", "of": "\(manifest.pieceCount)"])
        }
        let holding = settings.serving.map { partials in
            let holding = PartialHolding(manifest: manifest, path: file.path,
                                         verified: PieceBitfield(pieceCount: manifest.pieceCount, pieces: reused),
                                         reader: { try file.reader() })
            partials.add(holding)
            return holding
        }
        let engine = SwarmEngine(manifest: manifest, peers: peers, alreadyVerified: reused, settings: SwarmPolicy.Settings(
            requestsPerPeer: settings.requestsPerPeer, maxRequestersPerPiece: settings.maxRequestersPerPiece,
            maximumInFlightBytes: settings.maximumInFlightBytes, peerTimeout: settings.peerTimeout,
            tieBreakSeed: UInt64.random(in: .min ... .max), maximumPeers: max(settings.maximumPeers, peers.count)))
        (self.contentID, self.manifest, self.targetPath, self.logger) = (contentID, manifest, targetPath, logger)
        (self.file, self.recordPath, self.wholeFile, self.engine, self.holding) = (file, recordPath, wholeFile, engine, holding)
        self.reused = reused
        reusedBytes = reused.reduce(0) { $0 + UInt64(manifest.length(ofPiece: $1)) }
        context = SwarmStart.Context(engine: engine, file: file, writers: PieceWriters(file: file), wholeFile: wholeFile,
                                     serving: holding)
    }

    /// Opens (or reopens, to resume) the partial file for `targetPath` and reserves `size`
    /// bytes for it: blocking work, on the thread pool.
    static func openPartialFile(_ targetPath: String, size: UInt64) async throws -> PartialFile {
        try await blocking.runIfActive { try PartialFile(targetPath: targetPath, size: size) }
    }

    /// Flushes the file and saves the resume record (what makes a resume cheap).
    func checkpoint() async {
        let verified = engine.snapshot(includePieceLists: true).verified
        do {
            try await Self.blocking.runIfActive {
                try file.sync()
                try ResumeRecord(contentID: contentID, verified: verified).save(to: recordPath)
            }
        } catch {
            logger.warning("cannot save resume record", metadata: ["error": "\(error)"])
        }
    }

    /// The whole-file SHA-256 (nil if pieces are missing from it), with the file flushed
    /// meanwhile: hashing the last pieces and the final `fdatasync` overlap.
    func hashAndFlush() async throws -> SHA256Hash? {
        async let flushed: Void = Self.blocking.runIfActive { try file.sync() }
        let digest = try await Self.blocking.runIfActive { try wholeFile.finish(file: file) }
        try await flushed
        return digest
    }

    /// Puts the verified file in place and forgets the resume record.
    func commit() async throws {
        try await Self.blocking.runIfActive {
            try file.commit()
            ResumeRecord.remove(at: recordPath)
        }
    }

    /// Forged content: nothing is kept.
    func discard() {
        file.discard()
        ResumeRecord.remove(at: recordPath)
    }

    func peerReports(_ s: SwarmEngine.Snapshot, banningAll: Bool = false) -> [SwarmDownload.PeerReport] {
        s.peers.map {
            SwarmDownload.PeerReport(endpoint: $0.endpoint, fileBytes: $0.fileBytes, wireBytes: $0.wireBytes,
                                     pieces: $0.pieces, failures: $0.failures, banned: $0.banned || banningAll,
                                     lastError: banningAll ? "served a forged content" : $0.lastError)
        }
    }

    func report(startedAt start: ContinuousClock.Instant, banningAll: Bool = false) -> SwarmDownload.Report {
        let s = engine.snapshot()
        return SwarmDownload.Report(
            targetPath: targetPath, manifest: manifest, contentID: contentID, elapsed: .now - start,
            peers: peerReports(s, banningAll: banningAll),
            retriedPieces: s.retriedPieces, reusedPieces: reused.count, reusedBytes: reusedBytes)
    }

    func progress(startedAt start: ContinuousClock.Instant) -> SwarmDownload.Progress {
        let s = engine.snapshot()
        return SwarmDownload.Progress(
            verifiedBytes: s.verifiedBytes, receivingBytes: s.receivingBytes, reusedBytes: reusedBytes,
            reusedPieces: reused.count, pieceCount: manifest.pieceCount, totalBytes: manifest.fileSize,
            fileHash: manifest.fileHash, wireBytes: s.peers.reduce(0) { $0 + $1.wireBytes },
            activePeers: s.peers.filter(\.connected).count, elapsed: .now - start, peers: peerReports(s))
    }
}
