import ArgumentParser
import Logging

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
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        var logger = Logger(label: label)
        logger.logLevel = level
        return logger
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}
