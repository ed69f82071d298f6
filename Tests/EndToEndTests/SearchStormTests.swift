import Foundation
import SonicCore
import SonicTestSupport
import SonicWire
import Testing

/// Searches must never hold up the sessions that keep the index alive: while a queue of
/// expensive searches is being worked through, heartbeats and registrations are answered.
/// (How fast is `sonic-bench index`'s business; this checks the order things happen in.)
@Suite(.serialized, .timeLimit(.minutes(3)))
struct SearchStormTests {
    static func file(_ session: Int, _ n: Int) -> SharedFile {
        let hash = SHA256Hash.of(Array("\(session)/\(n)".utf8))
        return SharedFile(name: "peer-\(session)/song \(n).ogg", size: UInt64(n), contentID: ContentID(hash), fileHash: hash)
    }

    @Test func heartbeatsAndRegistrationsAreAnsweredWhileSearchesAreQueued() async throws {
        let sessions = 200, filesPerSession = 100, searchers = 24
        let index = try Program("sonic-index", ["--port", "0", "--log-level", "warning",
                                                "--max-connections", "400", "--max-connections-per-ip", "400"])
        defer { index.stopNow() }
        let door = try await ForwardingProxy.plainDoor(to: try await index.listeningAddress())
        defer { Task { await door.stop() } }
        let address = door.address
        var seeders: [RawClient] = []
        for s in 0..<sessions {
            let c = try RawClient(address, timeoutSeconds: 60)
            c.send(.hello(Hello(role: .seeder, listenPort: UInt16(20_000 + s), agent: "storm")))
            guard case .welcome = c.receive() else { throw HarnessError("session \(s) not welcomed") }
            c.send(.register((0..<filesPerSession).map { Self.file(s, $0) }))
            guard case .ok = c.receive() else { throw HarnessError("session \(s) not registered") }
            seeders.append(c)
        }
        let registered = UInt32(sessions * filesPerSession)

        // Every searcher asks for everything (a full page of 1000 groups from 20 000): a queue
        // of searches that takes the index a while to work through.
        let clients = try (0..<searchers).map { _ in
            let c = try RawClient(address, timeoutSeconds: 60)
            try c.handshake()
            return c
        }
        for c in clients { c.send(.search(SearchRequest(mode: .keyword, query: ""))) }

        // Meanwhile one seeder heartbeats and registers new files; each gets its OK.
        let seeder = seeders[0]
        for n in 0..<10 {
            seeder.send(.heartbeat)
            guard case .ok = seeder.receive() else { throw HarnessError("heartbeat \(n) not answered") }
            seeder.send(.register([Self.file(0, filesPerSession + n)]))
            guard case .ok = seeder.receive() else { throw HarnessError("registration \(n) not answered") }
        }
        let unanswered = clients.filter { !$0.hasBytesWaiting() }.count
        #expect(unanswered > 0, "every search was answered before the seeder's heartbeats: they waited for the searches")

        // The searches are all answered, each with everything registered when it ran.
        for c in clients {
            guard case .searchResults(let results) = c.receive() else { throw HarnessError("a search was not answered") }
            #expect((registered...registered + 10).contains(results.total))
            #expect(results.results.count == 1000)
        }
        // And a search sent after the last OK sees every new file.
        clients[0].send(.search(SearchRequest(mode: .keyword, query: "PEER-0/ song", limit: 1)))
        guard case .searchResults(let after) = clients[0].receive() else { throw HarnessError("no RESULTS") }
        #expect(after.total == UInt32(filesPerSession + 10))
    }
}
