import Logging
import ArgumentParser
import SonicCLI
import SonicNet
import SonicWire

@main
struct SonicSearchCommand: AsyncParsableCommand {
    static func main() async {
        await mainReportingUsageErrors()
    }

    static let configuration = CommandConfiguration(
        commandName: "sonic-search",
        abstract: "Search the Sonic Share network for files.",
        discussion: """
            Every word of KEYWORD must appear in a file's name (case-insensitive); no keyword lists \
            every file in the network. Results are grouped by content: one line per distinct \
            content, with the number of peers that hold it. Exits 1 when nothing matches, 3 when no \
            index answered, 6 when a members-only network refused us.
            """,
        version: SonicVersion.current
    )

    @Argument(help: "Words to look for in file names (none: list everything).")
    var keyword: [String] = []

    @Flag(help: "Match the exact name (or last path component) instead of keywords.")
    var exact = false

    @Flag(help: "Print one JSON object with every result instead of a table.")
    var json = false

    @OptionGroup var index: IndexOptions
    @OptionGroup var secret: SecretOptions
    @OptionGroup var transport: TransportOptions
    @OptionGroup var logging: LoggingOptions

    func validate() throws {
        do {
            try WireLimits.checkString(keyword.joined(separator: " "), what: "KEYWORD")
        } catch {
            throw ValidationError(error.description)
        }
    }

    func run() async throws {
        let logger = logging.makeLogger(label: "sonic-search", defaultLevel: .warning)
        try await CommandFailure.reporting("sonic-search", json: json) {
            let client = IndexClient(indexes: try index.endpoints(), agent: "sonic-search", secret: try secret.load(),
                                     transport: try transport.transport(), trust: try transport.indexTrust(index))
            let query = keyword.joined(separator: " ")
            let results = try await client.search(exact ? .exact : .keyword, query, logger: logger)
            if json {
                Console.out(JSONValue.object([
                    ("query", .string(query)),
                    ("count", .number(Double(results.count))),
                    ("results", .array(results.map(ResultFormatting.json))),
                ]).text)
            } else if results.isEmpty {
                Console.err(query.isEmpty ? "the network shares no files" : "no file matches \(query.debugDescription)")
            } else {
                ResultFormatting.table(results, width: Console.stdoutColumns).forEach(Console.out)
            }
            if results.isEmpty { throw ExitCode(1) }
        }
    }
}
