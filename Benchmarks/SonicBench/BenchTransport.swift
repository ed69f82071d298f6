import ArgumentParser
import Foundation
import SonicCLI

/// `--tls on|off` of the benchmarks: every program a run starts inherits it through
/// `SONIC_TLS` (each program's `--tls` default).
struct BenchTransport: ParsableArguments {
    @Option(help: ArgumentHelp("TLS on every connection of the programs started: on (their default) or off.",
                               valueName: "on|off"))
    var tls = TLSMode.on

    /// Sets `SONIC_TLS` for the programs this run starts.
    func apply() {
        setenv(TransportOptions.environmentVariable, tls.rawValue, 1)
    }
}
