import ArgumentParser
import Foundation
import SonicCLI
import SonicCore
import SonicTestSupport
import SonicWire

/// The index benchmark: one real `sonic-index`, many seeder sessions registering over real
/// connections, then searches timed alone and under a storm of searching clients, with
/// heartbeats and registrations timed during the storm.
struct IndexBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "index",
        abstract: "Time registrations, searches and heartbeats against one sonic-index.",
        discussion: """
            Starts a release-built sonic-index on loopback (--port 0), opens --peers seeder \
            sessions and registers --files-per-peer files each (one REGISTER frame per session). \
            Registration time runs from the first connection to the answer of a search sent \
            after the last OK, so the files are searchable when it stops. Then it times exact \
            and keyword searches (first page of 100) alone, and again while --searchers \
            clients search in a loop, timing heartbeats and registrations meanwhile. Last, \
            every seeder session closes at once, timed until the files of 20 of them spread \
            over the rest (the last to close among them) are gone from searches. \
            Names are `ARTIST/GENRE MOOD #N.mp3`: an artist word is in 1 name of 370, a genre \
            and mood pair in 1 of 370 too. With --store postgres the index keeps its files in a \
            private PostgreSQL server started for the run (the index RSS then leaves out the \
            database's memory).
            """)

    @Option(help: "Seeder sessions.")
    var peers = 10_000

    @Option(help: "Files each seeder registers.")
    var filesPerPeer = 100

    @Option(help: "Clients searching in a loop during the storm.")
    var searchers = 50

    @Option(help: "Seconds the storm lasts.")
    var stormSeconds = 10

    @Option(help: "The index's store: memory, postgres (a private PostgreSQL server started for the run), or a postgres:// URL.")
    var store = "memory"

    @Flag(help: "Print the results as JSON.")
    var json = false

    @Option(help: "Folder with the sonic-* executables (default: beside sonic-bench).")
    var binDir: String?

    func validate() throws {
        guard (1...15_000).contains(peers) else { throw ValidationError("--peers must be 1...15000 (one socket each)") }
        guard (1...WireLimits.maximumFilesPerFrame).contains(filesPerPeer) else {
            throw ValidationError("--files-per-peer must be 1...\(WireLimits.maximumFilesPerFrame) (one REGISTER frame)")
        }
        guard (0...200).contains(searchers) else { throw ValidationError("--searchers must be 0...200") }
        guard (1...300).contains(stormSeconds) else { throw ValidationError("--storm-seconds must be 1...300") }
        guard store == "memory" || store == "postgres" || store.hasPrefix("postgres://") else {
            throw ValidationError("--store must be memory, postgres or postgres://USER@HOST:PORT/DB")
        }
    }

    func run() async throws {
        // The sessions and searches are hand-made frames on plain sockets (RawClient): the
        // index runs without TLS, and the figures are those of the index itself.
        setenv(TransportOptions.environmentVariable, TLSMode.off.rawValue, 1)
        let binaries = try Binaries.locate(override: binDir)
        let programs = ProgramSet()
        var storeURL: String?
        var cluster: PostgresCluster?
        if store == "postgres" {
            cluster = try PostgresCluster.startNow()
            storeURL = cluster?.url()
        } else if store != "memory" {
            storeURL = store
        }
        // The index (stopped by `programs`) must be gone before its database.
        defer { programs.stopAll(); cluster?.stopNow() }
        let storeArguments = storeURL.map { ["--store", $0] } ?? []
        let (result, signal) = try await runCancellingOnSignal {
            try await measure(binaries: binaries, programs: programs, storeArguments: storeArguments)
        }
        if signal != nil { throw ExitCode(130) }
        if let result { report(result) }
    }

    struct Result {
        var files = 0
        var registrationSeconds = 0.0
        var residentBytes = 0
        var peakResidentBytes = 0
        var quiet: [String: Latencies] = [:]
        var storm: [String: Latencies] = [:]
        var keywordMatches: [String: Double] = [:]
        var stormSearches = 0
        var departureSeconds = 0.0
    }

    private func measure(binaries: Binaries, programs: ProgramSet, storeArguments: [String]) async throws -> Result {
        let names = BenchNames(filesPerPeer: filesPerPeer)
        let connections = peers + searchers + 100
        let index = programs.add(try RunningProgram(binaries, "sonic-index", [
            "--port", "0", "--log-level", "warning", "--heartbeat-timeout", "1h",
            "--max-connections", "\(connections)", "--max-connections-per-ip", "\(connections)",
        ] + storeArguments))
        let address = try await index.listeningAddress()
        var result = Result(files: peers * filesPerPeer)

        // Registration, from 32 threads of blocking clients: a real network's seeders connect
        // all at once, and with 8 the index sat idle between their round trips (5 to 22 % of
        // the time, docs/PERFORMANCE.md). The file lists are made before the clock starts:
        // making a million names and hashes is the client's work, not the index's, and on
        // these 2 cores it would take CPU from the index while it is timed.
        let registrars = 32
        let peers = self.peers
        let fileLists = try await onThreads(registrars) { thread in
            stride(from: thread, to: peers, by: registrars).map { names.files(ofPeer: $0) }
        }
        let start = ContinuousClock.now
        var sessions = try await onThreads(registrars) { thread -> [RawClient] in
            try stride(from: thread, to: peers, by: registrars).enumerated().map { n, peer in
                let client = try RawClient(address, timeoutSeconds: 60)
                client.send(.hello(Hello(role: .seeder, listenPort: UInt16(1024 + peer % 60_000), agent: "sonic-bench")))
                guard case .welcome = client.receive() else { throw BenchError("session \(peer) not welcomed") }
                client.send(.register(fileLists[thread][n]))
                guard case .ok = client.receive() else { throw BenchError("session \(peer): registration refused") }
                return client
            }
        }.flatMap { $0 }
        let probe = try RawClient(address, timeoutSeconds: 60)
        try probe.handshake()
        let everything = try search(probe, .exact, names.baseName(of: 0), limit: 1)
        result.registrationSeconds = (ContinuousClock.now - start).seconds
        guard everything.total == 1 else { throw BenchError("file 0 is not listed after registration") }
        // Read once the index has been quiet for a second: it hands a burst's freed memory back
        // to the system 200 ms after the burst ends (SearchLoop.quietBeforeTrim).
        try await Task.sleep(for: .seconds(1))
        result.residentBytes = index.residentBytes
        Console.err("registered \(result.files) files from \(peers) sessions in \(formatFixed(result.registrationSeconds, decimals: 2)) s")

        // Quiet: one client, one search at a time.
        var generator = SystemRandomNumberGenerator()
        for (kind, query) in queryKinds(names) {
            var latencies: [Double] = []
            var matches = 0.0
            let rounds = kind == "exact" ? 2000 : 500
            for _ in 0..<rounds {
                let (q, mode) = query(&generator)
                let t = ContinuousClock.now
                let answer = try search(probe, mode, q, limit: 100)
                latencies.append((ContinuousClock.now - t).milliseconds)
                matches += Double(answer.total) / Double(rounds)
            }
            result.quiet[kind] = Latencies(latencies)
            result.keywordMatches[kind] = matches
        }
        Console.err("quiet searches done; storm of \(searchers) searchers for \(stormSeconds) s")

        // The storm: searchers in a loop; heartbeats, registrations and exact searches timed meanwhile.
        let deadline = ContinuousClock.now + .seconds(stormSeconds)
        // Sessions of their own for the timed heartbeats and registrations, whatever --peers is
        // (taking them from the registered sessions left none to register with below 21 peers).
        let stormSessions = try (0..<Self.heartbeatSessions + Self.registrantSessions).map { n in
            let client = try RawClient(address, timeoutSeconds: 60)
            client.send(.hello(Hello(role: .seeder, listenPort: UInt16(61_000 + n), agent: "sonic-bench")))
            guard case .welcome = client.receive() else { throw BenchError("storm session \(n) not welcomed") }
            return client
        }
        let heartbeaters = Array(stormSessions.prefix(Self.heartbeatSessions))
        let registrants = Array(stormSessions.dropFirst(Self.heartbeatSessions))
        let searcherCount = searchers
        let kinds = queryKinds(names)
        let timed = try await onThreads(searcherCount + 4) { thread -> [String: [Double]] in
            var rng = SystemRandomNumberGenerator()
            var times: [String: [Double]] = [:]
            func time(_ kind: String, _ body: () throws -> Void) rethrows {
                let t = ContinuousClock.now
                try body()
                times[kind, default: []].append((ContinuousClock.now - t).milliseconds)
            }
            switch thread {
            case searcherCount:  // heartbeats, 20 sessions in turn, about 200 a second
                var n = 0
                while ContinuousClock.now < deadline {
                    let client = heartbeaters[n % heartbeaters.count]
                    try time("heartbeat") {
                        client.send(.heartbeat)
                        guard case .ok = client.receive() else { throw BenchError("heartbeat not answered") }
                    }
                    n += 1
                    usleep(5_000)
                }
            case searcherCount + 1:  // registrations and unregistrations of one new file
                var n = 0
                while ContinuousClock.now < deadline {
                    let client = registrants[n % registrants.count]
                    let file = names.extraFile(n)
                    try time("registration") {
                        client.send(.register([file]))
                        guard case .ok = client.receive() else { throw BenchError("registration not answered") }
                    }
                    client.send(.unregister([file.name]))
                    guard case .ok = client.receive() else { throw BenchError("unregistration not answered") }
                    n += 1
                    usleep(10_000)
                }
            case searcherCount + 2:  // exact searches
                let client = try RawClient(address, timeoutSeconds: 60)
                try client.handshake()
                while ContinuousClock.now < deadline {
                    let (q, mode) = kinds[0].query(&rng)
                    try time("exact") { _ = try search(client, mode, q, limit: 100) }
                    usleep(5_000)
                }
            case searcherCount + 3:  // memory while the storm runs
                while ContinuousClock.now < deadline { usleep(100_000) }
            default:
                let client = try RawClient(address, timeoutSeconds: 60)
                try client.handshake()
                var n = thread
                while ContinuousClock.now < deadline {
                    let (kind, query) = kinds[1 + n % 2]
                    let (q, mode) = query(&rng)
                    try time(kind) { _ = try search(client, mode, q, limit: 100) }
                    n += 1
                }
            }
            return times
        }
        result.peakResidentBytes = index.peakResidentBytes
        var merged: [String: [Double]] = [:]
        for times in timed { merged.merge(times) { $0 + $1 } }
        result.storm = merged.mapValues(Latencies.init)
        result.stormSearches = (merged["keyword, 1 word"]?.count ?? 0) + (merged["keyword, 2 words"]?.count ?? 0)
        guard index.process.isRunning else { throw BenchError("sonic-index exited: \(index.stderr)") }
        // The sessions stay open to here: a closed one takes its files with it.
        withExtendedLifetime((sessions, stormSessions)) {}
        result.departureSeconds = try await departure(closing: &sessions, probe: probe, names: names)
        withExtendedLifetime(stormSessions) {}
        return result
    }

    /// Closes every seeder session at once (a network going down, a mass restart) and times
    /// how long until the index has forgotten their files: until exact searches for a file of
    /// each of 20 sessions spread over all of them, the last one closed among them, find
    /// nothing. Checked every 10 ms, for at most a minute.
    private func departure(closing sessions: inout [RawClient], probe: RawClient, names: BenchNames) async throws -> Double {
        let step = max(1, peers / 20)
        let sampled = stride(from: peers - 1, through: 0, by: -step).map { names.baseName(of: $0 * filesPerPeer) }
        let start = ContinuousClock.now
        sessions.removeAll()  // each closes its socket
        var remaining = sampled
        while !remaining.isEmpty {
            guard ContinuousClock.now - start < .seconds(60) else { throw BenchError("files still listed a minute after their sessions closed") }
            remaining = try remaining.filter { try search(probe, .exact, $0, limit: 1).total > 0 }
            if !remaining.isEmpty { try await Task.sleep(for: .milliseconds(10)) }
        }
        return (ContinuousClock.now - start).seconds
    }

    /// Sessions that heartbeat in turn during the storm (about 200 heartbeats a second in all).
    static let heartbeatSessions = 20
    /// Sessions that register and unregister one file in turn during the storm.
    static let registrantSessions = 4

    /// The query kinds: a name to look for, and its mode, drawn at random.
    private func queryKinds(_ names: BenchNames) -> [(kind: String, query: @Sendable (inout SystemRandomNumberGenerator) -> (String, SearchRequest.Mode))] {
        let files = peers * filesPerPeer
        return [
            ("exact", { rng in (names.baseName(of: Int.random(in: 0..<files, using: &rng)), .exact) }),
            ("keyword, 1 word", { rng in (BenchNames.artist(Int.random(in: 0..<BenchNames.artists, using: &rng)), .keyword) }),
            ("keyword, 2 words", { rng in
                let i = Int.random(in: 0..<files, using: &rng)
                return ("\(BenchNames.genre(of: i)) \(BenchNames.mood(of: i).uppercased())", .keyword)
            }),
        ]
    }

    private func search(_ client: RawClient, _ mode: SearchRequest.Mode, _ query: String, limit: UInt32) throws -> SearchResults {
        client.send(.search(SearchRequest(mode: mode, query: query, limit: limit)))
        guard case .searchResults(let results) = client.receive() else { throw BenchError("no RESULTS for \(query)") }
        return results
    }

    private func report(_ result: Result) {
        let mib = 1_048_576.0
        let kinds = ["exact", "keyword, 1 word", "keyword, 2 words", "heartbeat", "registration"]
        if json {
            func latencies(_ l: Latencies?) -> JSONValue {
                guard let l else { return .null }
                return .object([("count", .number(Double(l.count))), ("p50_ms", .number(l.p50.rounded(to: 3))),
                                ("p99_ms", .number(l.p99.rounded(to: 3))), ("max_ms", .number(l.maximum.rounded(to: 3)))])
            }
            Console.out(JSONValue.object([
                ("store", .string(store == "memory" ? "memory" : "postgres")),
                ("peers", .number(Double(peers))), ("files_per_peer", .number(Double(filesPerPeer))),
                ("files", .number(Double(result.files))), ("searchers", .number(Double(searchers))),
                ("registration_seconds", .number(result.registrationSeconds.rounded(to: 3))),
                ("rss_bytes", .number(Double(result.residentBytes))),
                ("peak_rss_bytes", .number(Double(result.peakResidentBytes))),
                ("average_matches", .object(result.keywordMatches.sorted { $0.key < $1.key }.map { ($0.key, .number($0.value.rounded(to: 1))) })),
                ("quiet", .object(kinds.map { ($0, latencies(result.quiet[$0])) })),
                ("storm", .object(kinds.map { ($0, latencies(result.storm[$0])) })),
                ("storm_searches_per_second", .number((Double(result.stormSearches) / Double(stormSeconds)).rounded(to: 1))),
                ("departure_seconds", .number(result.departureSeconds.rounded(to: 3))),
            ]).text)
            return
        }
        Console.out("store: \(store == "memory" ? "memory" : "postgres")")
        Console.out("\(result.files) files from \(peers) sessions: registered and searchable in "
            + "\(formatFixed(result.registrationSeconds, decimals: 2)) s; index RSS \(formatFixed(Double(result.residentBytes) / mib, decimals: 1)) MiB "
            + "(peak \(formatFixed(Double(result.peakResidentBytes) / mib, decimals: 1)) MiB)")
        Console.out("storm: \(searchers) searchers, \(formatFixed(Double(result.stormSearches) / Double(stormSeconds), decimals: 0)) keyword searches/s")
        Console.out("departure: \(peers) sessions closed at once, their files gone in \(formatFixed(result.departureSeconds, decimals: 2)) s")
        let rows = kinds.map { kind -> [String] in
            let q = result.quiet[kind], s = result.storm[kind]
            return [kind, result.keywordMatches[kind].map { formatFixed($0, decimals: 0) } ?? "-",
                    q.map { formatFixed($0.p50, decimals: 3) } ?? "-", q.map { formatFixed($0.p99, decimals: 3) } ?? "-",
                    s.map { formatFixed($0.p50, decimals: 3) } ?? "-", s.map { formatFixed($0.p99, decimals: 3) } ?? "-",
                    s.map { formatFixed($0.maximum, decimals: 1) } ?? "-"]
        }
        ResultFormatting.alignedTable(header: ["OPERATION", "MATCHES", "QUIET p50 ms", "QUIET p99 ms", "STORM p50 ms", "STORM p99 ms", "STORM max ms"],
                                      rows: rows, rightAligned: Set(1..<7)).forEach(Console.out)
    }
}

/// Sorted round-trip times in milliseconds.
struct Latencies {
    let sorted: [Double]
    init(_ values: [Double]) { sorted = values.sorted() }
    var count: Int { sorted.count }
    func percentile(_ p: Double) -> Double {
        sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))]
    }
    var p50: Double { percentile(0.5) }
    var p99: Double { percentile(0.99) }
    var maximum: Double { sorted.last ?? 0 }
}

/// The benchmark's file names: `ARTIST/GENRE MOOD #N.mp3` for file N. Artist, genre and
/// mood are 7-letter made-up words from disjoint lists, so a word matches only itself:
/// file N has artist N / 370 % 370 (1 in 370), genre N % 37 and mood N / 37 % 10
/// (a pair is 1 in 370).
struct BenchNames: Sendable {
    static let artists = 370
    let filesPerPeer: Int

    static func word(_ prefix: String, _ k: Int) -> String {
        let consonants = Array("bdfgklmnprstvz"), vowels = Array("aeiou")
        func syllable(_ s: Int) -> String { "\(consonants[s % 14])\(vowels[s / 14 % 5])" }
        return prefix + syllable(k % 70) + syllable(k / 70 % 70) + syllable(k / 4900 % 70)
    }

    static func artist(_ k: Int) -> String { word("q", k) }
    static func genre(of file: Int) -> String { word("x", file % 37) }
    static func mood(of file: Int) -> String { word("j", file / 37 % 10) }

    func baseName(of file: Int) -> String { "\(Self.genre(of: file)) \(Self.mood(of: file)) #\(file).mp3" }
    func name(of file: Int) -> String { "\(Self.artist(file / 370 % Self.artists))/\(baseName(of: file))" }

    func files(ofPeer peer: Int) -> [SharedFile] {
        (peer * filesPerPeer..<(peer + 1) * filesPerPeer).map { file in
            let hash = SHA256Hash.of(Array("file \(file)".utf8))
            return SharedFile(name: name(of: file), size: UInt64(file), contentID: ContentID(hash), fileHash: hash)
        }
    }

    func extraFile(_ n: Int) -> SharedFile {
        let hash = SHA256Hash.of(Array("extra \(n)".utf8))
        return SharedFile(name: "extra/probe \(n).mp3", size: 1, contentID: ContentID(hash), fileHash: hash)
    }
}

/// Runs `body(i)` for each i in 0..<count on a thread of its own (the clients block on their
/// sockets) and returns the results in order once all have finished.
func onThreads<T: Sendable>(_ count: Int, _ body: @escaping @Sendable (Int) throws -> T) async throws -> [T] {
    let results = ThreadResults<T>(count: count)
    await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
        let group = DispatchGroup()
        for i in 0..<count {
            group.enter()
            let thread = Thread {
                results.set(i, Result { try body(i) })
                group.leave()
            }
            thread.stackSize = 1 << 20
            thread.start()
        }
        group.notify(queue: .global()) { done.resume() }
    }
    return try results.values()
}

private final class ThreadResults<T: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var results: [Result<T, any Error>?]
    init(count: Int) { results = Array(repeating: nil, count: count) }
    func set(_ i: Int, _ r: Result<T, any Error>) { lock.withLock { results[i] = r } }
    func values() throws -> [T] { try lock.withLock { results }.map { try $0!.get() } }
}

extension Double {
    func rounded(to decimals: Int) -> Double {
        let scale = pow(10.0, Double(decimals))
        return (self * scale).rounded() / scale
    }
}

extension Duration {
    var milliseconds: Double { seconds * 1000 }
}
