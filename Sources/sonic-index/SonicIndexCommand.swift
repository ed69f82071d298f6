import Glibc
import Logging
import ArgumentParser
import PostgresNIO
import ServiceLifecycle
import SonicCLI
import SonicCore
import SonicIndex
import SonicIndexPostgres
import SonicNet
import SonicWeb

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

            With --store postgres://USER@HOST:PORT/DB, any number of index processes share one \
            PostgreSQL database: a client searching on any of them finds the peers registered on \
            every other. Each process refreshes its own liveness in the database; the sessions of \
            a process that stops doing so are removed by the others within --heartbeat-timeout.

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

    @Option(help: "Where the index is kept: memory, or postgres://USER[:PASSWORD]@HOST:PORT/DB to share one database with other index processes.")
    var store = "memory"

    @Option(help: "Most files one peer may register.")
    var maxFilesPerPeer = 100_000

    @Option(help: "Most result groups per search page (clients page through the rest).")
    var maxResults = 1000

    @OptionGroup var web: HTTPOptions
    @OptionGroup var limits: ServerLimitOptions
    @OptionGroup var secret: SecretOptions
    @OptionGroup var transport: TransportOptions
    @OptionGroup var logging: LoggingOptions

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be 0...65535") }
        guard heartbeatTimeout.duration > .zero else { throw ValidationError("--heartbeat-timeout must be positive") }
        guard maxFilesPerPeer > 0 else { throw ValidationError("--max-files-per-peer must be positive") }
        guard (1...1000).contains(maxResults) else { throw ValidationError("--max-results must be 1...1000") }
        guard store == "memory" || PostgresStoreAddress(parsing: store) != nil else {
            throw ValidationError("--store must be memory or postgres://USER@HOST:PORT/DB")
        }
    }

    func run() async throws {
        let logger = logging.makeLogger(label: "sonic-index", defaultLevel: .info)
        try await CommandFailure.reporting("sonic-index", json: false) {
            let limits = IndexLimits(maximumFilesPerSession: maxFilesPerPeer, maximumResultsPerPage: maxResults)
            let listener = self.limits.listener(IndexServer.Configuration.defaultListener, host: host, port: port,
                                                idleTimeout: heartbeatTimeout.duration, secret: try secret.load(),
                                                transport: try transport.transport())
            // The services besides the server, in start order; they stop in reverse, after it.
            var services: [any Service] = []
            var store: (any IndexStore)?
            if let address = PostgresStoreAddress(parsing: self.store) {
                let client = PostgresClient(configuration: address.clientConfiguration, backgroundLogger: logger)
                let postgres = PostgresIndexStore(
                    client: client,
                    configuration: .init(limits: limits, heartbeatTimeout: heartbeatTimeout.duration,
                                         label: "\(host):\(port) pid \(getpid())"),
                    logger: logger)
                services = [client, postgres]
                store = postgres
                logger.info("index store", metadata: ["store": "\(address)"])
            }
            let server = try await IndexServer.bind(.init(listener: listener, limits: limits), store: store, logger: logger)
            Console.announceListening(server.boundAddress)
            Console.announcePeerID(listener.transport)
            logger.info("index listening", metadata: ["address": "\(server.boundAddress)", "tls": "\(transport.tls)"])
            services.append(server)
            if let address = try web.address() {
                services.append(try IndexWebApp(
                    configuration: WebConfiguration(binding: HTTPBinding(host: address.host, port: address.port), token: try web.token()),
                    source: .init(address: server.boundAddress, peerID: listener.transport.localPeerID, counts: { let c = server.counts; return (c.sessions, c.files) },
                                  searches: { server.searchesServed }),
                    logger: logger, onRunning: { Console.out("http on http://\($0)/") }))
            }
            try await ServiceRunner.run(services, logger: logger)
        }
    }
}
