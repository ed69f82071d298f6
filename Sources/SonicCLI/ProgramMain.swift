import ArgumentParser

#if canImport(Glibc)
import Glibc
#endif

extension AsyncParsableCommand {
    /// The programs' `main`: parses and runs the command like ArgumentParser's own, but a
    /// usage error is reported in the programs' one style, `PROGRAM: message`, followed by
    /// where to find help, instead of `Error: …`. Help and `--version` print as usual, and
    /// failures of `run()` have already been reported by ``CommandFailure``.
    public static func mainReportingUsageErrors() async {
        let program = configuration.commandName ?? "sonic"
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            let code = exitCode(for: error)
            if code == .success {
                print(fullMessage(for: error))
            } else {
                let message = message(for: error)
                if !message.isEmpty {
                    Console.err("\(program): \(message)")
                    if code == .validationFailure { Console.err("See '\(program) --help'.") }
                }
            }
            Glibc.exit(code.rawValue)
        }
    }
}
