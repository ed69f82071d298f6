import Foundation
import SonicCore
import SonicIndex
@testable import SonicIndexPostgres
import SonicTestSupport
import SonicWire
import Synchronization
import Testing

/// The PostgreSQL store against a private server: the same answers as the memory store, and
/// shared soft state between stores on one database.
// Needs Debian's postgresql (initdb, pg_ctl); .ci/run installs it, so CI always runs these.
// Serialized: each test starts its own server, and several at once would load the 2 cores
// that the rest of the suite's timing-sensitive tests share.
@Suite(.serialized, .enabled(if: PostgresCluster.isInstalled, "PostgreSQL is not installed (apt-get install postgresql)"),
       .timeLimit(.minutes(3)))
struct PostgresIndexStoreTests {
    /// Random registrations, departures and queries, applied to the memory store's registry
    /// and to the PostgreSQL store: every page must be equal.
    @Test(arguments: [1, 2] as [UInt64])
    func answersAsTheMemoryStoreDoes(seed: UInt64) async throws {
        try await StoreFixture.with { fixture in
            let limits = IndexLimits(maximumResultsPerPage: 7)
            let compared = try await fixture.withStore(limits: limits) { store in
                var g = SeededBytes(seed: seed)
                var oracle = IndexRegistry(limits: limits)
                var connected = Set<UInt64>()
                var knownNames: [String] = []
                var compared = 0
                for step in 0..<120 {
                    let session = UInt64.random(in: 1...8, using: &g)
                    switch Int.random(in: 0..<10, using: &g) {
                    case 0:
                        oracle.disconnect(session)
                        await store.disconnect(session)
                        connected.remove(session)
                    case 1:
                        let names = Array(oracle.files(of: session).map(\.name).prefix(2)) + ["never shared"]
                        let expected = oracle.unregister(session, names: names)
                        #expect(try await store.unregister(session, names: names) == expected)
                    default:
                        if connected.insert(session).inserted {
                            let address = Endpoint(host: "127.0.0.\(session)", port: 7000 + Int(session))
                            oracle.connect(session, address: address)
                            try await store.connect(session, address: address)
                        }
                        let files = (0..<Int.random(in: 1...4, using: &g)).map { _ in
                            Files.file(Files.randomName(&g), content: Int.random(in: 0..<20, using: &g))
                        }
                        try oracle.register(session, files: files)
                        try await store.register(session, files: files)
                        knownNames += files.map(\.name)
                    }
                    for _ in 0..<3 {
                        let request = Self.randomRequest(&g, names: knownNames)
                        let requester = Bool.random(using: &g) ? session : 999
                        let expected = oracle.search(request, excluding: requester)
                        let got = try await store.search(request, excluding: requester)
                        #expect(got == expected, "seed \(seed) step \(step): \(request.mode) \"\(request.query)\" offset \(request.offset)")
                        if expected.total > 0 { compared += 1 }
                    }
                }
                return compared
            }
            #expect(compared > 100, "most queries should match something")
        }
    }

    static func randomRequest(_ g: inout SeededBytes, names: [String]) -> SearchRequest {
        let offset = UInt32.random(in: 0...3, using: &g), limit = UInt32.random(in: 1...10, using: &g)
        if Bool.random(using: &g), let name = names.randomElement(using: &g) {
            let query = Bool.random(using: &g) ? SharedName.baseName(name) : name
            return SearchRequest(mode: .exact, query: query, offset: offset, limit: limit)
        }
        let query: String
        switch Int.random(in: 0..<5, using: &g) {
        case 0: query = ""
        case 1: query = Files.fragments.randomElement(using: &g)!
        case 2:  // a piece of a real name, in capitals
            let chars = Array(names.randomElement(using: &g) ?? "ab")
            let start = Int.random(in: 0..<chars.count, using: &g)
            query = String(chars[start..<min(chars.count, start + Int.random(in: 1...6, using: &g))]).uppercased()
        case 3: query = "\(Files.fragments.randomElement(using: &g)!) \(Files.fragments.randomElement(using: &g)!)"
        default: query = "zzz nothing"
        }
        return SearchRequest(mode: .keyword, query: query, offset: offset, limit: limit)
    }

    @Test func pagesWalkTheWholeResultOnceInOrder() async throws {
        try await StoreFixture.with { fixture in
            try await fixture.withStore { store in
                var g = SeededBytes(seed: 7)
                for session in UInt64(1)...4 {
                    try await store.connect(session, address: Endpoint(host: "127.0.0.1", port: 9000 + Int(session)))
                    let files = (0..<60).map { i in
                        Files.file("\(Files.randomName(&g)) \(session)-\(i)", content: Int.random(in: 0..<120, using: &g))
                    }
                    try await store.register(session, files: files)
                }
                let whole = try await store.search(SearchRequest(mode: .keyword, query: "", limit: 1000), excluding: 3)
                #expect(whole.total > 50 && whole.results.count == Int(whole.total))
                for pageSize in [1, 9, 50] {
                    var walked: [SearchResult] = []
                    var offset: UInt32 = 0
                    while true {
                        let page = try await store.search(
                            SearchRequest(mode: .keyword, query: "", offset: offset, limit: UInt32(pageSize)), excluding: 3)
                        #expect(page.total == whole.total)
                        if page.results.isEmpty { break }
                        walked += page.results
                        offset += UInt32(page.results.count)
                    }
                    #expect(walked == whole.results, "pages of \(pageSize)")
                }
            }
        }
    }

    @Test func aRefusedRegistrationStoresNothing() async throws {
        try await StoreFixture.with { fixture in
            try await fixture.withStore(limits: IndexLimits(maximumFilesPerSession: 3)) { store in
                let everything = SearchRequest(mode: .keyword, query: "", limit: 100)
                await #expect(throws: SessionTable.RegistrationError.noAddress) {
                    try await store.connect(1, address: nil)
                    try await store.register(1, files: [Files.file("a", content: 1)])
                }
                try await store.connect(2, address: Endpoint(host: "127.0.0.1", port: 9002))
                try await store.register(2, files: [Files.file("one", content: 1), Files.file("two", content: 2)])
                await #expect(throws: SessionTable.RegistrationError.tooManyFiles(limit: 3)) {
                    try await store.register(2, files: [Files.file("three", content: 3), Files.file("four", content: 4)])
                }
                await #expect(throws: SessionTable.RegistrationError.unsafeName("../x")) {
                    try await store.register(2, files: [Files.file("../x", content: 5)])
                }
                #expect(try await store.search(everything, excluding: 0).results.map(\.name) == ["one", "two"])
                // Replacing a name is not adding one: still within the limit.
                try await store.register(2, files: [Files.file("two", content: 6), Files.file("three", content: 3)])
                let names = try await store.search(everything, excluding: 0).results.map { "\($0.name) \($0.size)" }
                #expect(names == ["one 1", "three 3", "two 6"])
            }
        }
    }

    /// Two stores on one database, as two index processes: each finds the other's peers, a
    /// session's departure is seen by both, and a store whose heartbeat stops is expired by
    /// the other (its sessions with it) while the expired one learns it was. The timeout is
    /// long (sweeps every 3 s) so that a loaded machine never expires a live store; the
    /// silent one stops refreshing its heartbeat, which is dated back an hour.
    @Test func storesShareOneDatabaseAndExpireASilentOne() async throws {
        try await StoreFixture.with { fixture in
            let song = SearchRequest(mode: .keyword, query: "song", limit: 100)
            _ = try await fixture.withStore(heartbeatTimeout: .seconds(15)) { survivor in
                await #expect(throws: PostgresIndexStore.ProcessExpired.self) {
                    try await fixture.withStore(heartbeatTimeout: .seconds(15)) { doomed in
                        try await doomed.connect(1, address: Endpoint(host: "127.0.0.1", port: 9001))
                        try await doomed.register(1, files: [Files.file("Song One.ogg", content: 1)])
                        try await doomed.connect(2, address: Endpoint(host: "127.0.0.1", port: 9002))
                        try await doomed.register(2, files: [Files.file("Song Two.ogg", content: 2)])
                        try await survivor.connect(1, address: Endpoint(host: "127.0.0.1", port: 9101))
                        try await survivor.register(1, files: [Files.file("song one.ogg", content: 1)])

                        // The survivor's session 1 is not the doomed store's session 1.
                        let seen = try await survivor.search(song, excluding: 1)
                        #expect(seen.results.map(\.peers) == [[Endpoint(host: "127.0.0.1", port: 9001)],
                                                              [Endpoint(host: "127.0.0.1", port: 9002)]])
                        #expect(try await doomed.search(song, excluding: 2).total == 1)

                        await doomed.disconnect(2)
                        #expect(try await survivor.search(song, excluding: 1).total == 1)

                        // The doomed store stalls: its heartbeat is no longer refreshed, and is dated
                        // back so that the survivor's next sweep finds it stale.
                        doomed.heartbeatPaused.store(true, ordering: .relaxed)
                        let doomedID = try await doomed.processID.value()
                        try await fixture.cluster.sql("UPDATE sonic_index_processes SET heartbeat = now() - interval '1 hour' WHERE id = \(doomedID)")
                        try await Self.waitUntil("the survivor expired the silent store") {
                            try await survivor.search(song, excluding: 1).total == 0
                        }
                        #expect(try await survivor.search(song, excluding: 0).total == 1, "the survivor's own session stays")
                        // The expired store finds its row gone at its next heartbeat and stops, which
                        // cancels this wait; if it never does, the store returns and the test fails.
                        try await Task.sleep(for: .seconds(30))
                    }
                }
            }
        }
    }

    /// Peer ids proved by one process's sessions are found by another sharing the database,
    /// by address; a session's id goes with it.
    @Test func peerIDsAreSharedBetweenProcessesByAddress() async throws {
        try await StoreFixture.with { fixture in
            let served = Endpoint(host: "127.0.0.1", port: 9201)
            let silent = Endpoint(host: "127.0.0.1", port: 9202)
            let id = PeerID(SHA256Hash.of(Array("a seeder's key".utf8)))
            try await fixture.withStore { first async throws -> Void in
                try await first.connect(1, address: served)
                try await first.recordPeerID(id, of: 1)
                try await first.connect(2, address: silent)
                try await fixture.withStore { second async throws -> Void in
                    let found = try await second.peerIDs(at: [served, silent, Endpoint(host: "127.0.0.1", port: 9203)])
                    #expect(found == [served: id])
                    await first.disconnect(1)
                    let afterDisconnect = try await second.peerIDs(at: [served])
                    #expect(afterDisconnect.isEmpty)
                }
            }
        }
    }

    /// Partial holders (swarm feature) in the PostgreSQL store as in the memory store: listed
    /// by content id in announcement order, replaced by a new announcement, refused for a
    /// session that serves nothing, gone with their session.
    @Test func partialHoldersAreKeptAsInTheMemoryStore() async throws {
        let memory = try await Self.partialHolderScenario(MemoryIndexStore(limits: IndexLimits()))
        #expect(memory == Self.expectedPartialHolders)
        try await StoreFixture.with { fixture in
            let stored = try await fixture.withStore { store in try await Self.partialHolderScenario(store) }
            #expect(stored == Self.expectedPartialHolders)
        }
    }

    static let movie = Files.file("movie", content: 1).contentID
    static let song = Files.file("song", content: 2).contentID
    static func peer(_ port: Int) -> Endpoint { Endpoint(host: "127.0.0.1", port: port) }
    static let expectedPartialHolders: [[ContentID: [Endpoint]]] = [
        [movie: [peer(9002), peer(9001)], song: [peer(9001)]],
        [movie: [peer(9001)]],
        [movie: [peer(9002)]],
        [:],
    ]

    static func partialHolderScenario(_ store: any IndexStore) async throws -> [[ContentID: [Endpoint]]] {
        var seen: [[ContentID: [Endpoint]]] = []
        try await store.connect(1, address: peer(9001))
        try await store.connect(2, address: peer(9002))
        try await store.connect(3, address: nil)
        try await store.announcePartial(2, contents: [movie])
        try await store.announcePartial(1, contents: [movie, song, song])
        await #expect(throws: PartialHolderTable.AnnouncementError.noAddress) {
            try await store.announcePartial(3, contents: [movie])
        }
        seen.append(try await store.partialHolders(of: [movie, song], excluding: 3))
        // Session 2 asks: it is left out. Session 1 then completes the song.
        try await store.announcePartial(1, contents: [movie])
        seen.append(try await store.partialHolders(of: [movie, song], excluding: 2))
        await store.disconnect(1)
        seen.append(try await store.partialHolders(of: [movie, song], excluding: 3))
        try await store.announcePartial(2, contents: [])
        seen.append(try await store.partialHolders(of: [movie, song], excluding: 3))
        return seen
    }

    /// Graceful shutdown removes the store's own sessions at once. (12 000 files: more than
    /// one batched INSERT holds.)
    @Test func aStoppedStoreLeavesNothingBehind() async throws {
        try await StoreFixture.with { fixture in
            try await fixture.withStore { store in
                try await store.connect(5, address: Endpoint(host: "127.0.0.1", port: 9005))
                try await store.register(5, files: (0..<12_000).map { Files.file("bulk \($0).bin", content: $0) })
                #expect(try await store.search(SearchRequest(mode: .exact, query: "bulk 11999.bin"), excluding: 0).total == 1)
            }
            #expect(try await fixture.cluster.sql("SELECT count(*) FROM sonic_files").trimmingCharacters(in: .whitespacesAndNewlines) == "0")
            #expect(try await fixture.cluster.sql("SELECT count(*) FROM sonic_index_processes").trimmingCharacters(in: .whitespacesAndNewlines) == "0")
        }
    }

    static func waitUntil(_ what: String, timeout: Duration = .seconds(20), _ condition: () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        while try await !condition() {
            guard ContinuousClock.now < deadline else { throw StoreTestFailure("timed out waiting until \(what)") }
            try await Task.sleep(for: .milliseconds(20))
        }
    }
}

struct StoreTestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
