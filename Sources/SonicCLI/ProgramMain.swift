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
        // Parsing is mostly the runtime's first look-ups of the command's types, in a scan of
        // every conformance record. ArgumentParser first tries the arguments as a
        // completion-script request (its own types), then as this command; meanwhile a second
        // core makes this command's look-ups (building its usage line does), so the second
        // pass finds them cached: a 4 KiB download about 1 ms sooner (docs/PERFORMANCE.md).
        if sysconf(Int32(_SC_NPROCESSORS_ONLN)) > 1 {
            Task.detached(priority: .high) { _ = Self.usageString() }
        }
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
