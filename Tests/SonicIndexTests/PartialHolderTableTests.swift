import SonicCore
import SonicIndex
import SonicWire
import Testing

@Suite struct PartialHolderTableTests {
    let movie = ContentID(SHA256Hash.of(Array("movie".utf8)))
    let song = ContentID(SHA256Hash.of(Array("song".utf8)))
    func peer(_ port: Int) -> Endpoint { Endpoint(host: "127.0.0.1", port: port) }

    @Test func holdersAreListedInAnnouncementOrderLeavingOutTheRequester() throws {
        var table = PartialHolderTable()
        try table.announce(3, address: peer(3), contents: [movie])
        try table.announce(1, address: peer(1), contents: [movie, song])
        try table.announce(2, address: peer(2), contents: [movie])
        #expect(table.holders(of: [movie, song], excluding: 0) == [movie: [peer(3), peer(1), peer(2)], song: [peer(1)]])
        #expect(table.holders(of: [movie], excluding: 1) == [movie: [peer(3), peer(2)]])
        #expect(table.holders(of: [song], excluding: 1) == [:])
        #expect(table.holdingCount == 4)
    }

    @Test func anAnnouncementReplacesTheSetAndADisconnectForgetsIt() throws {
        var table = PartialHolderTable()
        try table.announce(1, address: peer(1), contents: [movie, song])
        try table.announce(2, address: peer(2), contents: [song])
        // Session 1 finished the movie (it is a complete holder now, or gone).
        try table.announce(1, address: peer(1), contents: [song])
        #expect(table.holders(of: [movie, song], excluding: 0) == [song: [peer(1), peer(2)]])
        try table.announce(1, address: peer(1), contents: [])
        #expect(table.holders(of: [song], excluding: 0) == [song: [peer(2)]])
        table.remove(2)
        #expect(table.holders(of: [movie, song], excluding: 0).isEmpty)
        #expect(table.holdingCount == 0)
    }

    @Test func aSessionThatServesNothingCannotHoldAnythingAndTheSetIsBounded() throws {
        var table = PartialHolderTable()
        #expect(throws: PartialHolderTable.AnnouncementError.noAddress) {
            try table.announce(1, address: nil, contents: [movie])
        }
        try table.announce(1, address: nil, contents: [])
        let many = (0...WireLimits.maximumPartialContents).map { ContentID(SHA256Hash.of(Array("\($0)".utf8))) }
        #expect(throws: PartialHolderTable.AnnouncementError.tooManyContents(limit: WireLimits.maximumPartialContents)) {
            try table.announce(1, address: peer(1), contents: many)
        }
        #expect(table.holdingCount == 0)
        // Repeats count once.
        try table.announce(1, address: peer(1), contents: [movie, movie])
        #expect(table.holders(of: [movie], excluding: 0) == [movie: [peer(1)]])
    }

    @Test func partialPeersAreAddedToAPageWithoutRepeatingCompleteOnesAndWithinTheFrame() {
        let hash = SHA256Hash.of(Array("x".utf8))
        var page = SearchResults(total: 2, results: [
            SearchResult(contentID: movie, size: 1, fileHash: hash, names: ["movie"], peers: [peer(9)]),
            SearchResult(contentID: song, size: 1, fileHash: hash, names: ["song"], peers: []),
        ])
        let longHost = Endpoint(host: String(repeating: "h", count: WireLimits.maximumListedHostLength + 1), port: 1)
        page.addPartialPeers([movie: [peer(9), peer(1), longHost], song: [peer(2)]])
        #expect(page.results.map(\.partialPeers) == [[peer(1)], [peer(2)]])

        // At most 256 a group, 1024 a frame.
        let contents = (0..<5).map { ContentID(SHA256Hash.of(Array("content \($0)".utf8))) }
        var full = SearchResults(total: 5, results: contents.map {
            SearchResult(contentID: $0, size: 1, fileHash: hash, names: ["n"], peers: [])
        })
        let crowd = (0..<300).map { peer(10_000 + $0) }
        full.addPartialPeers(Dictionary(uniqueKeysWithValues: contents.map { ($0, crowd) }))
        #expect(full.results.map(\.partialPeers.count) == [256, 256, 256, 256, 0])
        #expect(full.results[0].partialPeers == Array(crowd.prefix(256)))
    }
}
