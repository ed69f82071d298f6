import Logging
import ArgumentParser
import SonicCLI
import SonicCore
import SonicIndex
import SonicWeb
import ServiceLifecycle

@main
struct SonicIndexCommand: AsyncParsableCommand {
    static func main() async {
        await mainReportingUsageErrors()
    }

    static let configuration = CommandConfiguration(
        commandName: "sonic-index",
        abstract: "Run the Sonic Share index: the list of which peer shares which file.",
        discussion: """
            Peers connect, say HELLO, register the files they share and keep their session alive \
            with heartbeats. The index answers searches with every live peer holding each content, \
            and forgets a peer when its session closes or goes silent. It never stores file data.

            With --port 0 the OS picks a free port; the first line on standard output is always \
            `listening on HOST:PORT`.
            """,
        version: SonicVersion.current
    )

    @Option(help: "Address to listen on.")
    var host = "127.0.0.1"

    @Option(help: "TCP port to listen on (0: any free port).")
    var port = 5015

    @Option(parsing: .unconditional, help: "Forget a peer that sends nothing for this long (e.g. 15s, 500ms) (default: 15s).", transform: DurationText.argument)
    var heartbeatTimeout = DurationText(.seconds(15))

    @Option(help: "Most files one peer may register.")
    var maxFilesPerPeer = 100_000

    @Option(help: "Most result groups per search page (clients page through the rest).")
    var maxResults = 1000

    @OptionGroup var web: HTTPOptions
    @OptionGroup var limits: ServerLimitOptions
    @OptionGroup var secret: SecretOptions
    @OptionGroup var logging: LoggingOptions

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be 0...65535") }
        guard heartbeatTimeout.duration > .zero else { throw ValidationError("--heartbeat-timeout must be positive") }
        guard maxFilesPerPeer > 0 else { throw ValidationError("--max-files-per-peer must be positive") }
        guard (1...1000).contains(maxResults) else { throw ValidationError("--max-results must be 1...1000") }
    }

    func run() async throws {
        let logger = logging.makeLogger(label: "sonic-index", defaultLevel: .info)
        try await CommandFailure.reporting("sonic-index", json: false) {
            let server = try await IndexServer.bind(
                .init(listener: limits.listener(IndexServer.Configuration.defaultListener, host: host, port: port,
                                                idleTimeout: heartbeatTimeout.duration, secret: try secret.load()),
                      limits: .init(maximumFilesPerSession: maxFilesPerPeer, maximumResultsPerPage: maxResults)),
                logger: logger
            )
            Console.announceListening(server.boundAddress)
            logger.info("index listening", metadata: ["address": "\(server.boundAddress)"])
            var services: [any Service] = [server]
            if let address = try web.address() {
                services.append(try IndexWebApp(
                    configuration: WebConfiguration(binding: HTTPBinding(host: address.host, port: address.port), token: try web.token()),
                    source: .init(address: server.boundAddress, counts: { let c = server.counts; return (c.sessions, c.files) },
                                  searches: { server.searchesServed }),
                    logger: logger, onRunning: { Console.out("http on http://\($0)/") }))
            }
            try await ServiceRunner.run(services, logger: logger)
        }
    }
}
