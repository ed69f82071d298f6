import SonicTestSupport
import ArgumentParser
import Foundation
import SonicCLI
import SonicCore

/// The flash-crowd benchmark: one seeder and K downloaders that start together, every peer
/// capped at the same upload rate. Shows whether pieces spread between downloaders.
struct FlashBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "flash",
        abstract: "Time a flash crowd: one seeder and K simultaneous sonic-get, every peer capped.",
        discussion: """
            For each K: starts an index and one seeder (upload capped at --rate), then K sonic-get \
            processes at once, each serving while it downloads with the same cap. Reports the last \
            and the mean completion time, the ideal max(S/U, K·S/((K+1)·U)) (Kumar & Ross), \
            efficiency = ideal ÷ last, the copies of the file the seeder sent, and the share of \
            bytes that moved between downloaders (from each sonic-get's --json).
            """)

    @Option(help: "Downloader counts K to run, comma-separated.")
    var leechers = "4,8"

    @Option(help: "Upload cap of every peer, seeder and downloaders alike.")
    var rate = ByteCount(8 << 20)

    @Option(help: "File size.")
    var size = ByteCount(64 << 20)

    @Option(help: "Runs per K; the median of the last completion times is reported.")
    var `repeat` = 3

    @Flag(help: "Print the results as JSON.")
    var json = false

    @Option(help: "Folder with the sonic-* executables (default: beside sonic-bench).")
    var binDir: String?

    func validate() throws {
        guard (1...10).contains(self.repeat) else { throw ValidationError("--repeat must be 1...10") }
        guard rate.bytes > 0 else { throw ValidationError("--rate must be positive") }
        guard size.bytes > 0, size.bytes <= 4 << 30 else { throw ValidationError("--size must be 1 byte...4GiB") }
        _ = try counts()
    }

    func counts() throws -> [Int] {
        try leechers.split(separator: ",").map { text in
            guard let k = Int(text), (1...32).contains(k) else { throw ValidationError("--leechers takes counts 1...32") }
            return k
        }
    }

    /// One flash crowd.
    struct Run {
        var seconds: [Double]
        /// File bytes every downloader received from the seeder, and from other downloaders.
        var fromSeeder: UInt64
        var fromDownloaders: UInt64
    }

    struct Row {
        var k: Int
        var runs: [Run]
        var median: Run { runs.sorted { $0.seconds.max()! < $1.seconds.max()! }[runs.count / 2] }
    }

    @OptionGroup var transport: BenchTransport

    func run() async throws {
        transport.apply()
        let binaries = try Binaries.locate(override: binDir)
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("sonic-bench-flash-\(getpid())")
        let programs = ProgramSet()
        defer {
            programs.stopAll()
            try? FileManager.default.removeItem(at: work)
        }
        let (rows, signal) = try await runCancellingOnSignal {
            try await measure(binaries: binaries, work: work, programs: programs)
        }
        if signal != nil { throw ExitCode(130) }
        if let rows { report(rows) }
    }

    private func measure(binaries: Binaries, work: URL, programs: ProgramSet) async throws -> [Row] {
        let source = try DataGenerator.file(kind: .random, size: Int(size.bytes), in: work.appendingPathComponent("data"))
        let expected = try ManifestBuilder.manifest(ofFileAt: source.path).fileHash
        var rows: [Row] = []
        for k in try counts() {
            var row = Row(k: k, runs: [])
            for attempt in 0..<self.repeat {
                var network = try await LocalNetwork.start(binaries, programs: programs)
                let folder = work.appendingPathComponent("k\(k)-\(attempt)/seed")
                try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
                try FileManager.default.linkItem(at: source, to: folder.appendingPathComponent("flash.bin"))
                try await network.addSeeder(binaries, programs: programs, folder: folder,
                                            stateDirectory: work.appendingPathComponent("state-k\(k)-\(attempt)"),
                                            extra: ["--max-upload-rate", "\(rate.bytes)"])
                try await network.waitForHolders(binaries, name: "flash.bin", count: 1, peers: 1)
                let seederAddress = try await network.seeders[0].listeningAddress().description
                let start = ContinuousClock.now
                var downloads: [(program: RunningProgram, target: URL)] = []
                for i in 0..<k {
                    let target = work.appendingPathComponent("k\(k)-\(attempt)/get\(i)/flash.bin")
                    try FileManager.default.createDirectory(at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
                    let get = programs.add(try RunningProgram(binaries, "sonic-get", [
                        "flash.bin", "--json", "--quiet", "-o", target.path, "--index", network.indexAddress.description,
                        "--max-upload-rate", "\(rate.bytes)", "--discover-interval", "1s",
                    ]))
                    downloads.append((get, target))
                }
                // Every exit is timed as it happens; checking the files comes after the last.
                let exits = try await withThrowingTaskGroup(of: (Int, Int32, Double).self) { group in
                    for (i, download) in downloads.enumerated() {
                        group.addTask {
                            let status = try await download.program.waitForExit(timeout: .seconds(3600))
                            return (i, status, ((download.program.process.exitedAt ?? .now) - start).seconds)
                        }
                    }
                    var exits: [Int: (status: Int32, seconds: Double)] = [:]
                    for try await (i, status, seconds) in group { exits[i] = (status, seconds) }
                    return exits
                }
                var run = Run(seconds: [], fromSeeder: 0, fromDownloaders: 0)
                for (i, (get, target)) in downloads.enumerated() {
                    let (status, seconds) = exits[i]!
                    run.seconds.append(seconds)
                    guard status == 0 else { throw BenchError("sonic-get failed (exit \(status)): \(get.stderr)") }
                    guard try ManifestBuilder.manifest(ofFileAt: target.path).fileHash == expected else {
                        throw BenchError("SHA-256 mismatch with K = \(k)")
                    }
                    let summary = (try? JSONSerialization.jsonObject(with: Data(get.stdout.utf8))) as? [String: Any]
                    for peer in summary?["peers"] as? [[String: Any]] ?? [] {
                        let bytes = UInt64(peer["bytes"] as? Int ?? 0)
                        if peer["address"] as? String == seederAddress { run.fromSeeder += bytes } else { run.fromDownloaders += bytes }
                    }
                }
                row.runs.append(run)
                programs.stopAll()
                Console.err("done: K = \(k), run \(attempt + 1): last \(formatFixed(run.seconds.max()!, decimals: 2))s")
            }
            rows.append(row)
        }
        return rows
    }

    /// Kumar & Ross: the seeder must send the file once, and all K downloaders together
    /// receive K copies through K + 1 uploads.
    func idealSeconds(k: Int) -> Double {
        let s = Double(size.bytes), u = Double(rate.bytes)
        return max(s / u, Double(k) * s / (Double(k + 1) * u))
    }

    private func report(_ rows: [Row]) {
        let records = rows.map { row -> (k: Int, last: Double, mean: Double, ideal: Double, copies: Double, shared: Double) in
            let run = row.median
            let total = Double(run.fromSeeder + run.fromDownloaders)
            return (row.k, run.seconds.max()!, run.seconds.reduce(0, +) / Double(run.seconds.count), idealSeconds(k: row.k),
                    Double(run.fromSeeder) / Double(size.bytes), total > 0 ? Double(run.fromDownloaders) / total : 0)
        }
        if json {
            Console.out(JSONValue.array(records.map { r in
                .object([
                    ("leechers", .number(Double(r.k))),
                    ("rate", .number(Double(rate.bytes))),
                    ("size", .number(Double(size.bytes))),
                    ("last_seconds", .number((r.last * 1000).rounded() / 1000)),
                    ("mean_seconds", .number((r.mean * 1000).rounded() / 1000)),
                    ("ideal_seconds", .number((r.ideal * 1000).rounded() / 1000)),
                    ("efficiency", .number((r.ideal / r.last * 1000).rounded() / 1000)),
                    ("seeder_copies", .number((r.copies * 100).rounded() / 100)),
                    ("share_between_downloaders", .number((r.shared * 1000).rounded() / 1000)),
                ])
            }).text)
            return
        }
        let header = ["K", "CAP", "SIZE", "LAST", "MEAN", "IDEAL", "EFFICIENCY", "SEEDER COPIES", "PEER-TO-PEER"]
        let table = records.map { r in
            ["\(r.k)", ByteCount.format(Double(rate.bytes)) + "/s", ByteCount.format(Double(size.bytes)),
             formatFixed(r.last, decimals: 2) + "s", formatFixed(r.mean, decimals: 2) + "s",
             formatFixed(r.ideal, decimals: 2) + "s", formatFixed(r.ideal / r.last, decimals: 3),
             formatFixed(r.copies, decimals: 2), formatFixed(r.shared * 100, decimals: 1) + "%"]
        }
        let widths = header.indices.map { i in ([header[i]] + table.map { $0[i] }).map(\.count).max()! }
        for line in [header] + table {
            Console.out(line.indices.map { i in String(repeating: " ", count: widths[i] - line[i].count) + line[i] }
                .joined(separator: "  "))
        }
    }
}
