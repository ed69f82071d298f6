import SonicTestSupport
import Foundation
import SonicCore
import SonicWire
import Testing

/// Load: many index sessions, many concurrent downloaders. CI runs a scaled-down size; the
/// full size of docs/PERFORMANCE.md is
/// `SONIC_LOAD_SESSIONS=1000 SONIC_LOAD_DOWNLOADERS=64 swift test --filter LoadTests`.
@Suite(.serialized, .timeLimit(.minutes(5)))
struct LoadTests {
    static func setting(_ name: String, default value: Int) -> Int {
        ProcessInfo.processInfo.environment[name].flatMap(Int.init) ?? value
    }


    @Test func theIndexHoldsManySessionsAndKeepsAnsweringSearches() async throws {
        let sessions = Self.setting("SONIC_LOAD_SESSIONS", default: 300)
        let filesPerSession = 100
        // The sessions send no heartbeats: on a busy machine registering them all can take
        // longer than the default 15 s timeout, which would forget the first ones.
        let index = try Program("sonic-index", ["--port", "0", "--heartbeat-timeout", "10m",
                                                "--max-connections-per-ip", "\(sessions + 100)",
                                                "--max-connections", "\(sessions + 100)", "--log-level", "warning"])
        let door = try await ForwardingProxy.plainDoor(to: try await index.listeningAddress())
        let address = door.address
        let common = ContentID(SHA256Hash.of(Array("common".utf8)))
        do {
            let start = ContinuousClock.now
            var clients: [RawClient] = []
            for i in 0..<sessions {
                let c = try RawClient(address)
                c.send(.hello(Hello(role: .seeder, listenPort: UInt16(10_000 + i), agent: "load")))
                guard case .welcome = c.receive() else { throw HarnessError("session \(i) not welcomed") }
                var files = (0..<filesPerSession - 1).map { j in
                    SharedFile(name: "peer-\(i)/file-\(j).dat", size: UInt64(j), contentID: ContentID(SHA256Hash.of(Array("\(i)/\(j)".utf8))),
                               fileHash: SHA256Hash.of([UInt8(j & 0xff)]))
                }
                files.append(SharedFile(name: "common.dat", size: 6, contentID: common, fileHash: common.hash))
                c.send(.register(files))
                guard case .ok = c.receive() else { throw HarnessError("session \(i) registration refused") }
                clients.append(c)
            }
            let registered = ContinuousClock.now - start
            let rss = Double(index.residentBytes) / 1_048_576

            // Searches keep working, fast, with every session live.
            let probe = try RawClient(address)
            try probe.handshake()
            var slowest = Duration.zero
            func search(_ mode: SearchRequest.Mode, _ query: String) throws -> SearchResults {
                let t = ContinuousClock.now
                probe.send(.search(SearchRequest(mode: mode, query: query)))
                guard case .searchResults(let r) = probe.receive() else { throw HarnessError("no RESULTS for \(query)") }
                slowest = max(slowest, ContinuousClock.now - t)
                return r
            }
            let shared = try search(.exact, "common.dat")
            #expect(shared.total == 1)
            #expect(shared.results.first?.peers.count == min(sessions, WireLimits.maximumPeersPerResult))
            #expect(try search(.exact, "file-42.dat").total == UInt32(sessions))
            #expect(try search(.exact, "peer-7/file-3.dat").results.first?.peers == [Endpoint(host: "127.0.0.1", port: 10_007)])
            #expect(try search(.keyword, "FILE-9").total == UInt32(sessions * 10))  // file-9 and file-90…98

            // Half the sessions leave: their files go with them.
            for c in clients.prefix(sessions / 2) { c.send(.exit) }
            clients.removeFirst(sessions / 2)
            let deadline = ContinuousClock.now + .seconds(10)
            var left = UInt32(0)
            while ContinuousClock.now < deadline {
                left = try search(.exact, "file-42.dat").total
                if left == UInt32(sessions - sessions / 2) { break }
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(left == UInt32(sessions - sessions / 2))
            print("load: \(sessions) sessions × \(filesPerSession) files registered in \(registered); "
                + "index RSS \(formatFixed(rss, decimals: 1)) MiB; slowest search \(slowest)")
        } catch {
            await door.stop()
            await index.stop()
            throw error
        }
        await door.stop()
        await index.stop()
    }

    @Test func oneSeederServesManyConcurrentDownloadersByteIdentically() async throws {
        let downloaders = Self.setting("SONIC_LOAD_DOWNLOADERS", default: 16)
        let bytes = Harness.randomBytes(count: 4 << 20, seed: 64)
        let folder = try SwarmTests.sharedFolders(1, name: "popular.bin", bytes: bytes)[0]
        let out = try Harness.temporaryDirectory("many")
        let net = try await TestNetwork()
        defer { [folder, out].forEach { try? FileManager.default.removeItem(at: $0) } }
        try await net.run {
            let seeder = try await net.addSeeder(folder: folder)
            try await SwarmTests.waitForPeers(net, name: "popular.bin", count: 1)
            let start = ContinuousClock.now
            let gets = try (0..<downloaders).map { i in
                try Program("sonic-get", ["popular.bin", "--quiet", "-o", "copy-\(i).bin", "--index", net.indexAddress.description],
                            directory: out)
            }
            var peakSeederRSS = Double(seeder.residentBytes) / 1_048_576
            let deadline = ContinuousClock.now + .seconds(240)
            while gets.contains(where: { $0.process.isRunning }) && ContinuousClock.now < deadline {
                peakSeederRSS = max(peakSeederRSS, Double(seeder.residentBytes) / 1_048_576)
                try await Task.sleep(for: .milliseconds(10))
            }
            for get in gets {
                #expect(try await get.waitForExit() == 0, "stderr: \(get.stderr)")
            }
            let elapsed = ContinuousClock.now - start
            let expected = SHA256Hash.of(bytes).hex
            for i in 0..<downloaders {
                #expect(try Harness.sha256(ofFile: out.appendingPathComponent("copy-\(i).bin")) == expected, "copy \(i)")
            }
            print("load: \(downloaders) concurrent downloaders of 4 MiB from one seeder in \(elapsed); "
                + "seeder RSS peak \(formatFixed(peakSeederRSS, decimals: 1)) MiB")
        }
    }
}
