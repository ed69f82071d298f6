import ArgumentParser

@main
struct SonicBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sonic-bench",
        abstract: "Run Sonic Share on a local network: the swarm benchmark, the index benchmark, or a demo.",
        discussion: """
            Everything runs on loopback (127.0.0.1): one real sonic-index, real sonic-seed \
            processes and a real sonic-get. Every process started is stopped by its PID when the \
            run ends. Missing sonic-* executables are built first.
            """,
        subcommands: [SwarmBenchmark.self, FlashBenchmark.self, IndexBenchmark.self, Demo.self],
        defaultSubcommand: SwarmBenchmark.self
    )
}
