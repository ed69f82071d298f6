import ArgumentParser
import NIOPosix

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
        // The event loop threads and the blocking-work threads start on the second core while
        // this one parses the arguments, instead of after: a 4 KiB download ends about a
        // millisecond sooner (docs/PERFORMANCE.md, "Small files").
        if sysconf(Int32(_SC_NPROCESSORS_ONLN)) > 1 {
            Task.detached(priority: .high) {
                _ = MultiThreadedEventLoopGroup.singleton
                _ = NIOThreadPool.singleton
            }
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
