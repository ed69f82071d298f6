import SonicCore
import SonicIndex
import SonicWire
import Testing

@Suite struct IndexRegistryTests {

    func file(_ name: String, content: UInt8 = 1, size: UInt64 = 10) -> SharedFile {
        let id = ContentID(SHA256Hash(bytes: [UInt8](repeating: content, count: 32))!)
        return SharedFile(name: name, size: size, contentID: id, fileHash: SHA256Hash(bytes: [UInt8](repeating: ~content, count: 32))!)
    }

    func peer(_ port: Int) -> Endpoint { Endpoint(host: "127.0.0.1", port: port) }

    func registry(_ sessions: [(UInt64, [SharedFile])]) throws -> IndexRegistry {
        var r = IndexRegistry()
        for (id, files) in sessions {
            r.connect(id, address: peer(6000 + Int(id)))
            try r.register(id, files: files)
        }
        return r
    }

    @Test func exactSearchMatchesWholeNameOrLastComponentCaseSensitively() throws {
        let r = try registry([(1, [file("docs/Report 2026: final.pdf", content: 1), file("other.txt", content: 2)])])
        #expect(r.search(.init(mode: .exact, query: "docs/Report 2026: final.pdf")).results.map(\.name) == ["docs/Report 2026: final.pdf"])
        #expect(r.search(.init(mode: .exact, query: "Report 2026: final.pdf")).results.count == 1)
        #expect(r.search(.init(mode: .exact, query: "report 2026: final.pdf")).results.isEmpty)
        #expect(r.search(.init(mode: .exact, query: "Report")).results.isEmpty)
    }

    @Test func keywordSearchIsCaseInsensitiveAllWordsAndEmptyListsEverything() throws {
        let r = try registry([(1, [file("Summer Holiday.MP4", content: 1), file("summer notes.txt", content: 2),
                                   file("ünïcødé.txt", content: 3)])])
        #expect(r.search(.init(mode: .keyword, query: "SUMMER")).total == 2)
        #expect(r.search(.init(mode: .keyword, query: "summer mp4")).results.map(\.name) == ["Summer Holiday.MP4"])
        #expect(r.search(.init(mode: .keyword, query: "ÜNÏ")).results.map(\.name) == ["ünïcødé.txt"])
        #expect(r.search(.init(mode: .keyword, query: "")).total == 3)
        #expect(r.search(.init(mode: .keyword, query: "   ")).total == 3)
    }

    @Test func resultsAreGroupedByContentWithEveryPeer() throws {
        let r = try registry([
            (1, [file("song.ogg", content: 7)]),
            (2, [file("song.ogg", content: 7)]),
            (3, [file("song.ogg", content: 9)]),
        ])
        let results = r.search(.init(mode: .exact, query: "song.ogg")).results
        #expect(results.count == 2)
        let seven = try #require(results.first { $0.contentID.hash.bytes[0] == 7 })
        #expect(seven.peers == [peer(6001), peer(6002)])
        let nine = try #require(results.first { $0.contentID.hash.bytes[0] == 9 })
        #expect(nine.peers == [peer(6003)])
    }

    @Test func theRequestersOwnFilesAreLeftOut() throws {
        let r = try registry([(1, [file("a.txt", content: 1)]), (2, [file("a.txt", content: 1)])])
        let seenBy1 = r.search(.init(mode: .exact, query: "a.txt"), excluding: 1).results
        #expect(seenBy1.count == 1)
        #expect(seenBy1[0].peers == [peer(6002)])
        #expect(r.search(.init(mode: .keyword, query: ""), excluding: 1).results.flatMap(\.peers) == [peer(6002)])
    }

    @Test func disconnectForgetsEverythingOfThatSessionOnly() throws {
        var r = try registry([(1, [file("a.txt"), file("b.txt", content: 2)]), (2, [file("a.txt")])])
        r.disconnect(1)
        #expect(r.sessionCount == 1)
        #expect(r.fileCount == 1)
        #expect(r.search(.init(mode: .exact, query: "b.txt")).results.isEmpty)
        #expect(r.search(.init(mode: .exact, query: "a.txt")).results.first?.peers == [peer(6002)])
    }

    @Test func aPeerCannotUnregisterAnotherPeersFile() throws {
        var r = try registry([(1, [file("a.txt")]), (2, [file("b.txt", content: 2)])])
        #expect(r.unregister(2, names: ["a.txt"]) == 0)
        #expect(r.search(.init(mode: .exact, query: "a.txt")).results.count == 1)
        #expect(r.unregister(1, names: ["a.txt", "never-had.txt"]) == 1)
        #expect(r.search(.init(mode: .exact, query: "a.txt")).results.isEmpty)
    }

    @Test func reRegisteringANameReplacesItsContent() throws {
        var r = try registry([(1, [file("a.txt", content: 1)])])
        try r.register(1, files: [file("a.txt", content: 5)])
        let results = r.search(.init(mode: .exact, query: "a.txt")).results
        #expect(results.count == 1)
        #expect(results[0].contentID.hash.bytes[0] == 5)
        #expect(r.fileCount == 1)
    }

    @Test func registrationRules() throws {
        var r = IndexRegistry(limits: .init(maximumFilesPerSession: 2))
        r.connect(1, address: nil)
        #expect(throws: IndexRegistry.RegistrationError.noAddress) { try r.register(1, files: [file("a")]) }
        #expect(throws: IndexRegistry.RegistrationError.unknownSession) { try r.register(9, files: [file("a")]) }
        r.connect(2, address: peer(1))
        #expect(throws: IndexRegistry.RegistrationError.unsafeName("../etc/passwd")) {
            try r.register(2, files: [file("../etc/passwd")])
        }
        #expect(throws: IndexRegistry.RegistrationError.tooManyFiles(limit: 2)) {
            try r.register(2, files: [file("a"), file("b"), file("c")])
        }
        // All or nothing: the refused frame registered nothing.
        #expect(r.fileCount == 0)
        try r.register(2, files: [file("a"), file("b")])
        try r.register(2, files: [file("a", content: 3)])  // replacing is not adding
        #expect(r.fileCount == 2)
    }

    @Test func pagingWalksEveryGroupOnce() throws {
        let files = (0..<25).map { file(String(format: "f%02d", $0), content: UInt8($0 + 1)) }
        let r = try registry([(1, files)])
        var seen: [String] = []
        var offset: UInt32 = 0
        while true {
            let page = r.search(.init(mode: .keyword, query: "f", offset: offset, limit: 10))
            #expect(page.total == 25)
            if page.results.isEmpty { break }
            seen += page.results.map(\.name)
            offset += UInt32(page.results.count)
        }
        #expect(seen == files.map(\.name))
    }
}

import Foundation
