import Logging
import ArgumentParser
import SonicCLI
import SonicCore
import SonicSeed
import SonicWeb
import ServiceLifecycle

@main
struct SonicSeedCommand: AsyncParsableCommand {
    static func main() async {
        await mainReportingUsageErrors()
    }

    static let configuration = CommandConfiguration(
        commandName: "sonic-seed",
        abstract: "Share a folder with the Sonic Share network.",
        discussion: """
            Hashes every file under FOLDER (names are paths relative to it), registers them with \
            every index given, and serves them to downloaders. Keeps the indexes current as files \
            appear, change or vanish, and re-registers with an index that restarts. Hidden files \
            and anything that leads outside FOLDER (symlinks out of it) are never shared.

            The first line on standard output is `listening on HOST:PORT`. With --http, the \
            peer also serves a web app and a JSON API (search, download into the folder, upload, \
            live progress) and prints `http on http://HOST:PORT/` next.
            """,
        version: SonicVersion.current
    )

    @Argument(help: "The folder to share.")
    var folder: String

    @OptionGroup var index: IndexOptions

    @Option(help: "Address to serve peers on.")
    var host = "127.0.0.1"

    @Option(help: "TCP port to serve peers on (0: any free port).")
    var port = 6020

    @Option(parsing: .unconditional, help: "Interval between heartbeats to each index (default: 5s).", transform: DurationText.argument)
    var heartbeat = DurationText(.seconds(5))

    @Option(parsing: .unconditional, help: "Interval between rescans of the folder (default: 10s).", transform: DurationText.argument)
    var rescan = DurationText(.seconds(10))

    @Flag(help: "Do not keep a manifest cache (rehash everything on start).")
    var noCache = false

    @Flag(help: "Offer every piece to every downloader, even while several that trade pieces fetch the same file (default: offer each a few pieces nobody else was sent yet, so the seeder sends about one copy).")
    var noSuperSeed = false

    @Option(help: "Requests streamed at once, to as many downloaders (0: no limit). A request waits at most a second for its turn.")
    var uploadSlots = 4

    @Option(help: "Deflate data blocks: auto (files that compress), always, never.")
    var compress = BlockEncodingPolicy.Mode.auto

    @Option(help: "zlib level 1 (fastest) to 9 (smallest).")
    var level = 1

    @Option(parsing: .unconditional,
            help: "Memory for deflated blocks kept for the next downloader, so a popular file is deflated once (0: off).",
            transform: ByteCount.argument)
    var blockCache = ByteCount(64 << 20)

    @Option(parsing: .unconditional, help: "Limit all uploads together to this many wire bytes per second, e.g. 20MiB or 500KiB.", transform: ByteCount.argument)
    var maxUploadRate: ByteCount?

    @Option(parsing: .unconditional, help: "Close a downloader's connection when nothing moves either way for this long (default: 30s).", transform: DurationText.argument)
    var idleTimeout = DurationText(.seconds(30))

    @OptionGroup var web: HTTPOptions

    @Option(help: "With --http: subfolder of FOLDER that downloads land in (default: FOLDER itself).")
    var downloads: String?

    @Option(parsing: .unconditional, help: "With --http: largest file an upload may add (default: 1GiB).", transform: ByteCount.argument)
    var maxUpload = ByteCount(1 << 30)

    @OptionGroup var limits: ServerLimitOptions
    @OptionGroup var secret: SecretOptions
    @OptionGroup var transport: TransportOptions
    @OptionGroup var logging: LoggingOptions

    func validate() throws {
        guard (0...1024).contains(uploadSlots) else { throw ValidationError("--upload-slots must be 0...1024") }
        guard (0...65535).contains(port) else { throw ValidationError("--port must be 0...65535") }
        guard (1...9).contains(level) else { throw ValidationError("--level must be 1...9") }
        if let rate = maxUploadRate, rate.bytes == 0 { throw ValidationError("--max-upload-rate must be positive") }
        guard heartbeat.duration > .zero, rescan.duration > .zero else {
            throw ValidationError("--heartbeat and --rescan must be positive")
        }
    }

    func run() async throws {
        let logger = logging.makeLogger(label: "sonic-seed", defaultLevel: .info)
        try await CommandFailure.reporting("sonic-seed", json: false) {
            let scanner = try FolderScanner(root: folder)
            let cachePath = noCache ? nil : ManifestCache.defaultPath(forFolder: scanner.realRoot, stateDirectory: transport.stateDir)
            let networkSecret = try secret.load()
            let security = try transport.transport()
            let trust = try transport.indexTrust(index)
            let library = SharedLibrary()
            let indexer = FolderIndexer(scanner: scanner, library: library, cachePath: cachePath, logger: logger,
                                        probe: BlockEncodingPolicy.probe)
            var configuration = PeerServer.Configuration(
                listener: limits.listener(PeerServer.Configuration.defaultListener, host: host, port: port,
                                          idleTimeout: idleTimeout.duration, secret: networkSecret, transport: security),
                blockEncoding: .init(mode: compress, level: Int32(level)),
                maximumUploadRate: maxUploadRate.map { Double($0.bytes) },
                blockCacheBytes: Int(clamping: blockCache.bytes))
            configuration.superSeeding = !noSuperSeed
            configuration.uploadSlots = uploadSlots > 0 ? uploadSlots : nil
            let server = try await PeerServer.bind(
                configuration, library: library, logger: logger,
                contentChanged: { _ in indexer.requestRescan() })
            Console.announceListening(server.boundAddress)
            Console.announcePeerID(security)
            let seeder = Seeder(
                configuration: .init(indexes: try index.endpoints(), heartbeatInterval: heartbeat.duration,
                                     rescanInterval: rescan.duration, secret: networkSecret, transport: security, trust: trust),
                server: server, indexer: indexer, logger: logger)
            if let outcome = try await seeder.rescanNow() {
                logger.info("sharing \(outcome.files) file(s)", metadata: [
                    "folder": "\(folder)", "hashed": "\(outcome.hashed)", "from-cache": "\(outcome.files - outcome.hashed)",
                ])
            }
            var services: [any Service] = [seeder]
            if let address = try web.address() {
                let app = try PeerWebApp(
                    configuration: WebConfiguration(binding: HTTPBinding(host: address.host, port: address.port),
                                                    token: try web.token(), maximumUploadBytes: maxUpload.bytes),
                    peer: .init(server: server, indexer: indexer, indexes: try index.endpoints(), secret: networkSecret,
                                transport: security, trust: trust,
                                downloads: downloads ?? "", version: SonicVersion.current),
                    logger: logger,
                    onRunning: { Console.out("http on http://\($0)/") })
                services.append(app)
            }
            try await ServiceRunner.run(services, logger: logger)
        }
    }
}

/// `--compress auto|always|never` is the seeder's block-encoding mode itself.
extension BlockEncodingPolicy.Mode: ExpressibleByArgument {}
