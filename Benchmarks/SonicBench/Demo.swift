import SonicTestSupport
import ArgumentParser
import Foundation
import SonicCLI
import SonicCore

/// `sonic-bench demo`: an index and seeders over fixtures/, and a swarm download of every fixture.
struct Demo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Start an index and seeders over fixtures/ on loopback and swarm-download every fixture.",
        discussion: """
            The seeders share a copy of fixtures/ plus a generated 24 MiB file, with uploads capped \
            at 16 MiB/s each, so the swarm is visible: that file arrives in pieces from every seeder.
            """)

    /// The generated file that shows the swarm (the fixtures are one or two pieces each).
    static let swarmFile = "swarm-demo-24MiB.bin"

    @Option(help: "Seeders sharing fixtures/ (each a separate process).")
    var seeders = 3

    @Option(help: "The folder to share (default: the package's fixtures/).")
    var fixtures: String?

    @Option(help: "Folder with the sonic-* executables (default: beside sonic-bench).")
    var binDir: String?

    @Option(help: "After the downloads, keep the network running with a web peer on this port (0: any free port) until Ctrl-C.")
    var web: Int?

    func validate() throws {
        if let web, !(0...65535).contains(web) { throw ValidationError("--web must be a port 0...65535") }
        guard (1...16).contains(seeders) else { throw ValidationError("--seeders must be 1...16") }
    }

    @OptionGroup var transport: BenchTransport

    func run() async throws {
        transport.apply()
        let binaries = try Binaries.locate(override: binDir)
        guard let folder = fixtures.map({ URL(fileURLWithPath: $0) })
                ?? Binaries.packageRoot(from: binaries.directory)?.appendingPathComponent("fixtures")
        else { throw BenchError("cannot find fixtures/; pass --fixtures PATH") }
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("sonic-demo-\(getpid())")
        let downloads = work.appendingPathComponent("downloads")
        try FileManager.default.createDirectory(at: downloads, withIntermediateDirectories: true)
        let programs = ProgramSet()
        defer {
            programs.stopAll()
            try? FileManager.default.removeItem(at: work)
        }
        let (_, signal) = try await runCancellingOnSignal {
            try await demo(binaries: binaries, fixtures: folder, work: work, downloads: downloads, programs: programs)
        }
        if signal != nil { throw ExitCode(130) }
    }

    private func demo(binaries: Binaries, fixtures: URL, work: URL, downloads: URL, programs: ProgramSet) async throws {
        let folder = work.appendingPathComponent("shared")
        try FileManager.default.copyItem(at: fixtures, to: folder)
        let big = try DataGenerator.file(kind: .random, size: 24 << 20, in: work.appendingPathComponent("data"))
        try FileManager.default.moveItem(at: big, to: folder.appendingPathComponent(Self.swarmFile))
        var network = try await LocalNetwork.start(binaries, programs: programs)
        Console.out("index      \(network.indexAddress)")
        for i in 0..<seeders {
            try await network.addSeeder(binaries, programs: programs, folder: folder,
                                        stateDirectory: work.appendingPathComponent("state-\(i)"),
                                        extra: ["--max-upload-rate", "16MiB"])
            Console.out("seeder \(i + 1)   \(fixtures.path) + \(Self.swarmFile), uploads capped at 16 MiB/s")
        }
        let expected = try FileManager.default.subpathsOfDirectory(atPath: folder.path).filter { path in
            var isDirectory: ObjCBool = false
            _ = FileManager.default.fileExists(atPath: folder.appendingPathComponent(path).path, isDirectory: &isDirectory)
            return !isDirectory.boolValue && !path.split(separator: "/").contains { $0.hasPrefix(".") }
        }.sorted()
        try await network.waitForHolders(binaries, name: nil, count: expected.count, peers: seeders)

        Console.out("")
        Console.out("$ sonic-search")
        let search = try RunningProgram(binaries, "sonic-search", ["--index", network.indexAddress.description])
        _ = try await search.waitForExit(timeout: .seconds(30))
        // Line by line: `Console.out` escapes control characters, a newline inside a line too.
        for line in search.stdout.trimmingCharacters(in: .newlines).split(separator: "\n", omittingEmptySubsequences: false) {
            Console.out(String(line))
        }

        Console.out("")
        Console.out("$ sonic-get NAME   (each fixture, from all \(seeders) seeders at once)")
        var rows: [[String]] = []
        var contributions: [String] = []
        var failures = 0
        for (i, name) in expected.enumerated() {
            let target = downloads.appendingPathComponent("\(i)-" + SharedName.baseName(name))
            let get = try RunningProgram(binaries, "sonic-get",
                                         [name, "--json", "--quiet", "-o", target.path, "--index", network.indexAddress.description])
            let status = try await get.waitForExit(timeout: .seconds(120))
            let json = (try? JSONSerialization.jsonObject(with: Data(get.stdout.utf8))) as? [String: Any]
            let peers = (json?["peers"] as? [[String: Any]]) ?? []
            let used = peers.filter { ($0["pieces"] as? Int ?? 0) > 0 }.count
            let original = try ManifestBuilder.manifest(ofFileAt: folder.appendingPathComponent(name).path)
            let fetched = status == 0 ? try? ManifestBuilder.manifest(ofFileAt: target.path) : nil
            let ok = fetched?.fileHash == original.fileHash
            if !ok { failures += 1 }
            if name == Self.swarmFile {
                contributions = peers.map { p in
                    "  \(p["address"] as? String ?? "?"): \(p["pieces"] as? Int ?? 0) pieces, "
                        + ByteCount(UInt64(p["bytes"] as? Int ?? 0)).description
                }
            }
            rows.append([
                name, ByteCount(original.fileSize).description, "\(used)/\(peers.count)",
                ByteCount((json?["wire_bytes"] as? Int).map(UInt64.init) ?? 0).description,
                formatFixed(json?["seconds"] as? Double ?? 0, decimals: 3) + "s",
                ok ? "ok " + String(original.fileHash.hex.prefix(12)) : "MISMATCH (exit \(status)) \(get.stderr)",
            ])
        }
        ResultFormatting.alignedTable(header: ["NAME", "SIZE", "PEERS USED", "WIRE", "TIME", "SHA-256"],
                                      rows: rows, rightAligned: [1, 2, 3, 4]).forEach(Console.out)
        if !contributions.isEmpty {
            Console.out("")
            Console.out("\(Self.swarmFile) came from every seeder at once:")
            contributions.forEach(Console.out)
        }
        Console.out("")
        Console.out(failures == 0
            ? "all \(expected.count) files arrived byte-identical\(web == nil ? "; every process started is now stopped." : ".")"
            : "\(failures) file(s) did not arrive intact")
        if failures > 0 { throw ExitCode(1) }
        if let web { try await serveWeb(port: web, binaries: binaries, network: network, work: work, programs: programs) }
    }

    /// `--web`: a peer with the web app on an empty folder of its own, until Ctrl-C.
    private func serveWeb(port: Int, binaries: Binaries, network: LocalNetwork, work: URL, programs: ProgramSet) async throws {
        let mine = work.appendingPathComponent("my-files")
        try FileManager.default.createDirectory(at: mine, withIntermediateDirectories: true)
        let peer = programs.add(try RunningProgram(binaries, "sonic-seed", [
            mine.path, "--index", network.indexAddress.description, "--port", "0", "--http", "\(port)",
            "--state-dir", work.appendingPathComponent("state-web").path, "--log-level", "warning",
        ]))
        _ = try await peer.listeningAddress()
        let deadline = ContinuousClock.now + .seconds(30)
        while !peer.stdout.contains("http on "), peer.process.isRunning, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        guard let line = peer.stdout.split(separator: "\n").first(where: { $0.hasPrefix("http on ") }) else {
            throw BenchError("the web peer did not start: \(peer.stderr)")
        }
        Console.out("")
        Console.out("web app: open \(line.dropFirst("http on ".count)) — search with a blank box, click Download.")
        Console.out("Ctrl-C stops every process started.")
        while peer.process.isRunning { try await Task.sleep(for: .seconds(1)) }
        throw BenchError("the web peer stopped: \(peer.stderr)")
    }
}
