import ArgumentParser
#if canImport(FoundationEssentials)
import FoundationEssentials
import Glibc
#else
import Foundation
#endif
import Logging
import NIOPosix
import SonicCLI
import SonicCompression
import SonicCore
import SonicNet
import SonicSeed
import SonicSwarm
import SonicWire

@main
struct SonicGetCommand: AsyncParsableCommand {
    static func main() async {
        await mainReportingUsageErrors()
    }

    static let configuration = CommandConfiguration(
        commandName: "sonic-get",
        abstract: "Download a file from every peer that shares it, at once.",
        discussion: """
            Asks the index who holds NAME (its full shared name or its last path component), \
            fetches the manifest, and swarms pieces from all holders of that exact content in \
            parallel. Every piece is checked against its SHA-256 before it is written; the file \
            appears under its name only when complete. An interrupted download resumes when the \
            same command is run again.

            Exit codes: 0 done, 1 not found or ambiguous (use --hash), 3 no index answered, \
            4 incomplete (no good peer left; run again to resume), 5 output exists (use --force), \
            6 refused by a members-only network, 7 the output cannot be written (missing folder, \
            permissions, free space, a symlink at the partial file, another sonic-get writing it), 8 forged content (pieces \
            verify, the whole file does not; nothing saved), 9 security: the index's identity is not the one pinned or \
            remembered, or peers were refused because their certificates did not match the peer ids the index gave and \
            the download could not complete without them, 130 interrupted.
            """,
        version: SonicVersion.current
    )

    @Argument(help: "Name of the file to download.")
    var name: String

    @OptionGroup var index: IndexOptions
    @OptionGroup var secret: SecretOptions
    @OptionGroup var transport: TransportOptions

    @Option(name: .shortAndLong, help: "Where to save (a file path, an existing folder, or - for standard output once the whole file is verified). Default: the name's last component in the current folder.")
    var output: String?

    @Option(name: .customLong("hash"), help: "Pick the content whose SHA-256 (as sonic-search shows it) or content id starts with this prefix, or a whole SHA-256 (when a name is shared with different contents).")
    var hashPrefix: String?

    @Flag(help: "Overwrite an existing output file with different content.")
    var force = false

    @Flag(help: "Print one JSON summary object on standard output when done.")
    var json = false

    @Flag(name: .shortAndLong, help: "No progress line and no summary line.")
    var quiet = false

    @Option(help: "Use at most this many peers (1...256).")
    var maxPeers = 32

    @Option(help: "Requests (pieces) kept in flight per peer (1...64). More helps on high-latency links; each costs a piece of memory.")
    var requestsPerPeer = 2

    @Option(parsing: .unconditional, help: "Drop a peer that owes data and sends nothing for this long (default: 5s).", transform: DurationText.argument)
    var peerTimeout = DurationText(.seconds(5))

    @Option(help: "Accept deflated blocks: auto or never.")
    var compress = AcceptCompression.auto

    @Option(parsing: .unconditional, help: "Limit the download to this many wire bytes per second, e.g. 20MiB (all peers together).", transform: ByteCount.argument)
    var maxDownloadRate: ByteCount?

    @Flag(help: "Keep running after the download and share the file with the network.")
    var seed = false

    @Option(help: "Address to serve other peers on: the pieces verified so far while downloading (swarm feature; files over 256 KiB), the whole file with --seed.")
    var host = "127.0.0.1"

    @Option(help: "TCP port to serve other peers on (0: any free port).")
    var port = 0

    @Option(parsing: .unconditional, help: "Ask the index again this often for holders that appeared during the download (default: 10s).", transform: DurationText.argument)
    var discoverInterval = DurationText(.seconds(10))

    @Flag(help: "Serve nothing while downloading.")
    var noUpload = false

    @Flag(help: "Download from complete holders only and serve nothing meanwhile, as clients without the swarm feature do (implies --no-upload).")
    var noSwarm = false

    @Option(parsing: .unconditional, help: "Limit what is served to other peers to this many wire bytes per second, e.g. 8MiB.", transform: ByteCount.argument)
    var maxUploadRate: ByteCount?

    @OptionGroup var logging: LoggingOptions

    func validate() throws {
        guard !name.isEmpty else { throw ValidationError("NAME must not be empty") }
        do {
            try WireLimits.checkString(name, what: "NAME")
        } catch {
            throw ValidationError(error.description)
        }
        guard (1...256).contains(maxPeers) else { throw ValidationError("--max-peers must be 1...256") }
        guard (1...64).contains(requestsPerPeer) else { throw ValidationError("--requests-per-peer must be 1...64") }
        guard peerTimeout.duration > .zero else { throw ValidationError("--peer-timeout must be positive") }
        guard discoverInterval.duration > .zero else { throw ValidationError("--discover-interval must be positive") }
        guard (0...65535).contains(port) else { throw ValidationError("--port must be 0...65535") }
        if toStandardOutput && json { throw ValidationError("-o - writes the file to standard output; --json cannot share it") }
        if toStandardOutput && seed { throw ValidationError("-o - keeps no file to --seed") }
        if let rate = maxDownloadRate, rate.bytes == 0 { throw ValidationError("--max-download-rate must be positive") }
        if let rate = maxUploadRate, rate.bytes == 0 { throw ValidationError("--max-upload-rate must be positive") }
    }

    func run() async throws {
        let logger = logging.makeLogger(label: "sonic-get", defaultLevel: .warning)
        try await CommandFailure.reporting("sonic-get", json: json) {
            let setup = try Setup(self)
            let (security, networkSecret, trust) = (setup.security, setup.secret, setup.trust)
            if let id = security.localPeerID { logger.info("peer id \(id)") }
            let (finished, signal) = try await runCancellingOnSignal { () async throws -> (Outcome, PeerServer?) in
                let (client, result) = try await find(setup, logger: logger)
                // A file of one piece is whole the moment any of it is verified: nothing could
                // be served meanwhile, and the server and its index session cost a small
                // download a fifth of its time (docs/PERFORMANCE.md, "Small files").
                let servesWhileDownloading = !noUpload && !noSwarm && result.size > UInt64(Manifest.smallestDefaultPieceSize)
                let uploads = servesWhileDownloading ? try await bindUploads(setup, logger: logger) : nil
                // The upload server runs beside the download and ends with it; the indexes
                // are told what it holds in part, so that other downloaders find it.
                let outcome = try await withThrowingTaskGroup(of: Outcome?.self) { group -> Outcome in
                    if let uploads {
                        group.addTask {
                            try await uploads.serve()
                            return nil
                        }
                        for index in setup.indexes {
                            var announcer = IndexAnnouncer(
                                index: index, library: uploads.library, listenPort: uploads.boundAddress.port,
                                heartbeatInterval: .seconds(5), transport: security, trust: trust, agent: "sonic-get",
                                secret: networkSecret, partials: uploads.partials, logger: logger)
                            announcer.outageLogLevel = .debug
                            group.addTask {
                                // A refusal ends only the announcements: the download goes on.
                                do { try await announcer.run() } catch {
                                    logger.notice("not announced to the index", metadata: ["error": "\(error)"])
                                }
                                return nil
                            }
                        }
                    }
                    group.addTask { try await download(result, from: client, setup, logger: logger, uploads: uploads) }
                    defer { group.cancelAll() }
                    while let next = try await group.next() {
                        guard let outcome = next else { continue }
                        return outcome
                    }
                    throw CancellationError()
                }
                return (outcome, uploads)
            }
            let (outcome, uploads) = (finished?.0, finished?.1)
            if signal != nil || outcome == nil {
                if !quiet { ProgressLine.clear() }
                throw CommandError("interrupted; the partial download is kept; run the same command to resume",
                                   exitCode: ExitStatus.interrupted, code: "interrupted")
            }
            if json, let outcome, let swarm = outcome.swarm {
                printJSON(result: outcome.result, manifest: outcome.manifest, path: outcome.path, report: swarm.report,
                          uploads: uploads, security: security, pins: swarm.pins)
            }
            if seed, let outcome {
                try await seedFile(outcome, setup, logger: logger)
            }
        }
    }

    /// `-o -`: download into a private temporary folder, then copy the verified file to
    /// standard output and delete it (nothing unverified ever reaches the pipe).
    private var toStandardOutput: Bool { output == "-" }

    /// What every part of a run shares, read once: the identity, the indexes and how each is
    /// trusted, and the network secret.
    private struct Setup: Sendable {
        var security: TransportSecurity
        var indexes: [Endpoint]
        var secret: NetworkSecret?
        var trust: IndexTrust

        init(_ command: SonicGetCommand) throws {
            security = try command.transport.transport()
            indexes = try command.index.endpoints()
            secret = try command.secret.load()
            trust = try command.transport.indexTrust(command.index)
        }
    }

    private struct Outcome: Sendable {
        var result: SearchResult
        var manifest: Manifest
        var path: String
        /// A completed swarm's report for the `--json` summary, which ``run()`` prints once the
        /// upload server has stopped: printed earlier, it would leave out what the server was
        /// still sending (nil when the file was already complete: that summary is printed at once).
        var swarm: (report: SwarmDownload.Report, pins: PeerPins)? = nil
    }

    private func fail(_ message: String, _ exitCode: ExitCode, _ code: String, jsonPrinted: Bool = false) -> CommandError {
        CommandError(message, exitCode: exitCode, code: code, jsonPrinted: jsonPrinted)
    }

    /// The server that offers other peers the pieces verified so far (swarm feature).
    private func bindUploads(_ setup: Setup, logger: Logger) async throws -> PeerServer {
        var listener = PeerServer.Configuration.defaultListener
        (listener.host, listener.port, listener.secret, listener.transport) = (host, port, setup.secret, setup.security)
        let server = try await PeerServer.bind(
            .init(listener: listener, maximumUploadRate: maxUploadRate.map { Double($0.bytes) }),
            library: SharedLibrary(), partials: PartialHoldings(), logger: logger)
        logger.info("serving verified pieces while downloading", metadata: ["address": "\(server.boundAddress)"])
        return server
    }

    /// 1. Who holds NAME? The index client is kept for asking again during the download.
    private func find(_ setup: Setup, logger: Logger) async throws -> (IndexClient, SearchResult) {
        let client = IndexClient(indexes: setup.indexes, agent: "sonic-get", secret: setup.secret,
                                 features: noSwarm ? [] : [.swarm], transport: setup.security, trust: setup.trust)
        let results = try await client.search(.exact, name, logger: logger)
        switch ContentChoice.choose(from: results, name: name, hashPrefix: hashPrefix) {
        case .chosen(let result): return (client, result)
        case .notFound:
            throw fail("no peer shares \(name.debugDescription)", ExitStatus.notFound, "not_found")
        case .ambiguous(let candidates):
            ResultFormatting.table(candidates, width: Console.stderrIsTerminal ? ProgressLine.terminalWidth() - 2 : nil)
                .forEach { Console.err("  " + $0) }
            throw fail("\(candidates.count) different contents are shared as \(name.debugDescription) (listed above); "
                       + "pick one with --hash PREFIX", ExitStatus.notFound, "ambiguous")
        case .noMatchForHash(let candidates):
            ResultFormatting.table(candidates, width: Console.stderrIsTerminal ? ProgressLine.terminalWidth() - 2 : nil)
                .forEach { Console.err("  " + $0) }
            throw fail("no content of \(name.debugDescription) matches --hash \(hashPrefix ?? "") (shared contents listed above)",
                       ExitStatus.notFound, "not_found")
        }
    }

    /// Steps 2 to 4 for the content the index listed.
    private func download(_ result: SearchResult, from client: IndexClient, _ setup: Setup, logger: Logger,
                          uploads: PeerServer?) async throws -> Outcome {
        let (security, networkSecret) = (setup.security, setup.secret)
        let ownAddress = uploads?.boundAddress
        let holders = SwarmDownload.Holders(result, excluding: { listed in ownAddress.map(listed.mayBe) ?? false })

        // 2. Where to, and is that allowed?
        if toStandardOutput {
            let folder = try TemporaryFolder(prefix: "sonic-get")
            defer { folder.remove() }
            let path = folder.path + "/" + SharedName.baseName(result.name)
            let outcome = try await fetch(result, holders: holders, to: path, secret: networkSecret, security: security, index: client,
                                          uploads: uploads, logger: logger)
            do {
                try StandardOutput.copy(fileAt: path)
            } catch {
                throw fail("cannot write to standard output: \(error)", ExitStatus.cannotWrite, "cannot_write")
            }
            return outcome
        }
        let path = targetPath(for: result)
        if let existing = try? ReadOnlyFile(path: path) {
            let status = try? existing.status()
            existing.close()
            // Hashing a whole file is blocking work: NIO's thread pool, not the concurrency pool.
            let existingManifest = status?.size == result.size
                ? try? await NIOThreadPool.singleton.runIfActive { try ManifestBuilder.manifest(ofFileAt: path) } : nil
            if let m = existingManifest, m.contentID == result.contentID {
                if !quiet && !json { Console.err("sonic-get: \(path) is already complete") }
                if json { printJSON(result: result, manifest: m, path: path, report: nil) }
                return Outcome(result: result, manifest: m, path: path)
            }
            guard force else {
                throw fail("\(path) exists with other content; use --force to overwrite", ExitStatus.outputRefused, "output_exists")
            }
        }

        return try await fetch(result, holders: holders, to: path, secret: networkSecret, security: security, index: client,
                               uploads: uploads, logger: logger)
    }

    /// Steps 3 and 4: the manifest and the swarm into `path`.
    private func fetch(_ result: SearchResult, holders: SwarmDownload.Holders, to path: String,
                       secret networkSecret: NetworkSecret?, security: TransportSecurity, index client: IndexClient,
                       uploads: PeerServer?, logger: Logger) async throws -> Outcome {
        // Each peer must present the peer id the index gave for it.
        let pins = PeerPins(result.peerPins)
        var settings = SwarmDownload.Settings(
            requestsPerPeer: requestsPerPeer, peerTimeout: peerTimeout.duration,
            acceptDeflate: compress != .never,
            rateLimiter: maxDownloadRate.map { RateLimiter(bytesPerSecond: Double($0.bytes)) },
            secret: networkSecret, serving: uploads?.partials)
        settings.transport = security
        settings.pins = pins
        // Holders that appear during the download: the index is asked again.
        let (name, contentID) = (name, result.contentID)
        let ownAddress = uploads?.boundAddress
        settings.discover = {
            let results = try? await client.search(.exact, name, logger: logger)
            let found = results?.first { $0.contentID == contentID }
            if let found { pins.add(found.peerPins) }
            return SwarmDownload.Holders(found, excluding: { listed in ownAddress.map(listed.mayBe) ?? false })
        }
        settings.discoveryInterval = discoverInterval.duration
        settings.maximumPeers = maxPeers
        settings.speaksSwarm = !noSwarm
        settings.uploadPort = uploads?.boundAddress.port ?? 0
        // 3 and 4. The swarm: the manifest comes from the first of its connections that
        // serves one matching the content id.
        let first = holders.first(maxPeers)
        let showProgress = !quiet && Console.stderrIsTerminal
        let report: SwarmDownload.Report
        do {
            report = try await SwarmDownload.run(
                contentID: result.contentID, expectedSize: result.size, peers: first.peers, partialHolders: first.partial,
                targetPath: path, settings: settings, logger: logger,
                progress: showProgress ? DownloadProgress(name: SharedName.baseName(result.name)).report : nil)
        } catch let missing as SwarmDownload.NoManifest {
            reportRefusals(pins)
            throw fail("\(missing)", pins.refusals.isEmpty ? ExitStatus.incomplete : ExitStatus.security,
                       pins.refusals.isEmpty ? "no_manifest" : "identity_mismatch")
        } catch let incomplete as SwarmDownload.Incomplete {
            if showProgress { ProgressLine.clear() }
            for peer in incomplete.report.peers where peer.lastError != nil {
                Console.err("sonic-get: peer \(peer.endpoint): \(peer.lastError!)")
            }
            // Peers refused for their identity make an incomplete download a security failure.
            reportRefusals(pins)
            let refused = !pins.refusals.isEmpty
            let failure = fail("download incomplete: \(incomplete)" + (refused ? "; peers were refused for their identity" : ""),
                               refused ? ExitStatus.security : ExitStatus.incomplete,
                               refused ? "identity_mismatch" : "incomplete", jsonPrinted: json)
            if json {
                printJSON(result: result, manifest: incomplete.report.manifest, path: path, report: incomplete.report,
                          failure: failure,
                          uploads: uploads, security: settings.transport, pins: pins)
            }
            throw failure
        } catch let forged as SwarmDownload.InconsistentContent {
            if showProgress { ProgressLine.clear() }
            let failure = fail("\(forged)", ExitStatus.forgedContent, "forged_content", jsonPrinted: json)
            if json {
                Console.out(DownloadSummary.json(name: result.name, path: path, manifest: forged.report.manifest,
                                                 contentID: result.contentID,
                                                 report: forged.report, failure: failure, forged: true).text)
            }
            throw failure
        } catch let error as FileError {
            if showProgress { ProgressLine.clear() }
            throw fail("cannot write the download: \(error)", ExitStatus.cannotWrite, "cannot_write")
        } catch let busy as PartialFile.Busy {
            if showProgress { ProgressLine.clear() }
            throw fail("\(busy)", ExitStatus.cannotWrite, "busy")
        }
        if showProgress { ProgressLine.clear() }
        reportRefusals(pins)
        let manifest = report.manifest
        if !json && !quiet {
            let seconds = max(report.elapsed.seconds, 0.001)
            // This run's bytes only: resumed pieces were not fetched now.
            let fetched = manifest.fileSize - report.reusedBytes
            let rate = ByteCount.format(Double(fetched) / seconds) + "/s"
            let used = report.peers.filter { $0.pieces > 0 }.count
            let resumed = report.reusedPieces > 0 ? ", \(report.reusedPieces)/\(manifest.pieceCount) pieces resumed" : ""
            Console.err("sonic-get: \(path): \(ByteCount(fetched)) in \(formatFixed(seconds, decimals: 2))s (\(rate)) "
                        + "from \(used) peer(s)\(resumed), SHA-256 \(manifest.fileHash.hex)")
        }
        return Outcome(result: result, manifest: manifest, path: path, swarm: (report, pins))
    }


    private func targetPath(for result: SearchResult) -> String {
        let base = SharedName.baseName(result.name)
        guard let output else { return base }
        if FileStatus.isDirectory(output) {
            return output.hasSuffix("/") ? output + base : output + "/" + base
        }
        return output
    }

    private func printJSON(result: SearchResult, manifest: Manifest, path: String, report: SwarmDownload.Report?,
                           failure: CommandError? = nil, uploads: PeerServer? = nil, security: TransportSecurity? = nil,
                           pins: PeerPins? = nil) {
        Console.out(DownloadSummary.json(name: result.name, path: path, manifest: manifest,
                                         contentID: result.contentID, report: report, failure: failure,
                                         uploads: uploads, peerID: security?.localPeerID,
                                         refusals: (pins?.refusals ?? []).map(\.description)).text)
    }

    /// One line per peer refused because its certificate is not for the peer id the index
    /// gave: whether or not the download completed from the others, the user hears of it.
    private func reportRefusals(_ pins: PeerPins) {
        for refusal in pins.refusals { Console.err("sonic-get: security: \(refusal)") }
    }

    /// `--seed`: share the finished file until SIGINT/SIGTERM.
    private func seedFile(_ outcome: Outcome, _ setup: Setup, logger: Logger) async throws {
        let (security, networkSecret) = (setup.security, setup.secret)
        let library = SharedLibrary()
        let url = URL(fileURLWithPath: outcome.path).standardizedFileURL
        let folder = URL(fileURLWithPath: url.deletingLastPathComponent().path).resolvingSymlinksInPath().path
        let location = SharedLocation(root: folder, relativePath: url.lastPathComponent)
        var st = stat()
        guard lstat(location.path, &st) == 0, st.st_mode & S_IFMT == S_IFREG else {
            throw fail("\(location.path) is no longer a regular file; not seeding it", ExitStatus.cannotWrite, "cannot_write")
        }
        let status = try FileStatus.of(path: location.path)
        library.replaceAll([SharedEntry(
            name: outcome.result.name, location: location, status: status, manifest: outcome.manifest,
            compressible: BlockEncodingPolicy.probe(location.path, outcome.result.name))])
        var listener = PeerServer.Configuration.defaultListener
        (listener.host, listener.port, listener.secret, listener.transport) = (host, port, networkSecret, security)
        let server = try await PeerServer.bind(
            .init(listener: listener, maximumUploadRate: maxUploadRate.map { Double($0.bytes) }), library: library, logger: logger)
        if !json {
            Console.out("listening on \(server.boundAddress)")
            Console.announcePeerID(security)
        }
        Console.err("sonic-get: seeding \(outcome.result.name) on \(server.boundAddress); Ctrl-C to stop")
        let seeder = Seeder(configuration: .init(indexes: setup.indexes, agent: "sonic-get", secret: networkSecret,
                                                 transport: security, trust: setup.trust),
                            server: server, indexer: nil, logger: logger)
        try await ServiceRunner.run([seeder], logger: logger)
    }
}
