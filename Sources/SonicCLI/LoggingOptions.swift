import ArgumentParser
import Logging
import SonicCore

/// `--log-level` / `--verbose`; logs go to standard error so standard output stays for results.
public struct LoggingOptions: ParsableArguments, Sendable {
    @Option(name: .long, help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: Logger.Level?

    @Flag(name: .shortAndLong, help: "Same as --log-level debug.")
    var verbose = false

    public init() {}

    /// Installs the stderr log handler and returns the program's logger.
    public func makeLogger(label: String, defaultLevel: Logger.Level) -> Logger {
        let level = logLevel ?? (verbose ? .debug : defaultLevel)
        LoggingSystem.bootstrap { label in
            var handler = TerminalSafeLogHandler(StreamLogHandler.standardError(label: label))
            handler.logLevel = level
            return handler
        }
        var logger = Logger(label: label)
        logger.logLevel = level
        return logger
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}

/// Escapes control characters in log messages and metadata (``TerminalText``) before the
/// wrapped handler prints them: logged names and errors may come from other peers.
struct TerminalSafeLogHandler: LogHandler {
    private var wrapped: StreamLogHandler

    init(_ wrapped: StreamLogHandler) { self.wrapped = wrapped }

    var logLevel: Logger.Level {
        get { wrapped.logLevel }
        set { wrapped.logLevel = newValue }
    }

    var metadata: Logger.Metadata {
        get { wrapped.metadata }
        set { wrapped.metadata = newValue }
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { wrapped[metadataKey: key] }
        set { wrapped[metadataKey: key] = newValue }
    }

    func log(event: LogEvent) {
        var safe = event
        safe.message = "\(TerminalText.escaped(event.message.description))"
        safe.metadata = event.metadata?.mapValues { .string(TerminalText.escaped("\($0)")) }
        wrapped.log(event: safe)
    }
}
