import SonicTestSupport
import SonicCore
@testable import SonicIndex
import SonicWire
import Testing

/// The search structure against a brute-force oracle: random names (accents, other scripts,
/// repeated fragments), random registrations and departures, random queries.
@Suite struct SearchIndexOracleTests {
    /// What the oracle knows: the live files of each session and its address.
    struct Model {
        var addresses: [UInt64: Endpoint] = [:]
        var files: [UInt64: [String: SharedFile]] = [:]

        /// The page the index must return, computed by scanning everything.
        func search(_ request: SearchRequest, excluding requester: UInt64?, maximumPerPage: Int) -> SearchResults {
            let words = SearchText.words(of: request.query)
            func matches(_ name: String) -> Bool {
                switch request.mode {
                case .exact: return name == request.query || SharedName.baseName(name) == request.query
                case .keyword:
                    let folded = SearchText.fold(name)
                    return words.allSatisfy { word in
                        folded.count >= word.count && (0...(folded.count - word.count)).contains { Array(folded[$0..<$0 + word.count]) == word }
                    }
                }
            }
            var groups: [ContentID: (file: SharedFile, names: Set<String>, peers: Set<Endpoint>)] = [:]
            for (session, shared) in files where session != requester {
                for file in shared.values where matches(file.name) {
                    groups[file.contentID, default: (file, [], [])].names.insert(file.name)
                    groups[file.contentID]!.peers.insert(addresses[session]!)
                }
            }
            let ordered = groups.values.map { g -> SearchResult in
                let names = g.names.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
                let peers = g.peers.sorted { ($0.host, $0.port) < ($1.host, $1.port) }
                return SearchResult(contentID: g.file.contentID, size: g.file.size, fileHash: g.file.fileHash,
                                    names: Array(names.prefix(WireLimits.maximumPeersPerResult)),
                                    peers: Array(peers.prefix(WireLimits.maximumPeersPerResult)))
            }.sorted {
                $0.names[0].utf8.lexicographicallyPrecedes($1.names[0].utf8)
                    || ($0.names[0] == $1.names[0] && $0.contentID < $1.contentID)
            }
            let page = ordered.dropFirst(Int(request.offset)).prefix(min(Int(request.limit), maximumPerPage))
            return SearchResults(total: UInt32(ordered.count), results: Array(page))
        }
    }

    static let fragments = [
        "ab", "aba", "abab", "Résumé", "resume", "RESUME", "re\u{301}sume\u{301}", "café", "CAFE", "naïve", "Ünïcødé",
        "straße", "Ωμέγα", "ωμεγα", "東京", "ﬁle", "file", "🎵", "mp3", "MP3", ".", "-", " ", " ", "/", "x", "İstanbul",
    ]


    static func randomName(_ g: inout SeededBytes) -> String {
        var name = ""
        for _ in 0..<Int.random(in: 1...5, using: &g) { name += fragments.randomElement(using: &g)! }
        name = name.trimmingPrefix(while: { $0 == "/" || $0 == " " }).description
        return SharedName.isSafe(name) ? name : "plain"
    }

    static func randomQuery(_ g: inout SeededBytes, names: [String]) -> String {
        switch Int.random(in: 0..<6, using: &g) {
        case 0: return ""
        case 1: return "   "
        case 2: return fragments.randomElement(using: &g)!
        case 3:  // a piece of a real name, in capitals
            guard let name = names.randomElement(using: &g) else { return "ab" }
            let chars = Array(name)
            let start = Int.random(in: 0..<chars.count, using: &g)
            return String(chars[start..<min(chars.count, start + Int.random(in: 1...6, using: &g))]).uppercased()
        case 4: return "\(fragments.randomElement(using: &g)!) \(fragments.randomElement(using: &g)!)"
        default: return "zzz nothing"
        }
    }

    static func file(_ name: String, content: Int) -> SharedFile {
        let id = ContentID(SHA256Hash.of(Array("content \(content)".utf8)))
        return SharedFile(name: name, size: UInt64(content), contentID: id, fileHash: SHA256Hash.of(Array("hash \(content)".utf8)))
    }

    @Test(arguments: [1, 2, 3, 4])
    func keywordAndExactSearchAgreeWithTheOracle(seed: UInt64) throws {
        var g = SeededBytes(seed: seed)
        var registry = IndexRegistry(limits: .init(maximumResultsPerPage: 7))
        var model = Model()
        var knownNames: [String] = []
        var answered = 0
        for step in 0..<300 {
            let session = UInt64.random(in: 1...12, using: &g)
            switch Int.random(in: 0..<10, using: &g) {
            case 0:
                registry.disconnect(session)
                model.files[session] = nil
                model.addresses[session] = nil
            case 1:
                let names = model.files[session].map { Array($0.keys.prefix(2)) } ?? []
                registry.unregister(session, names: names + ["never shared"])
                for name in names { model.files[session]?[name] = nil }
            default:
                if model.addresses[session] == nil {
                    let address = Endpoint(host: "127.0.0.\(session)", port: 7000 + Int(session))
                    registry.connect(session, address: address)
                    model.addresses[session] = address
                    model.files[session] = [:]
                }
                let files = (0..<Int.random(in: 1...4, using: &g)).map { _ in
                    Self.file(Self.randomName(&g), content: Int.random(in: 0..<20, using: &g))
                }
                try registry.register(session, files: files)
                for f in files { model.files[session]![f.name] = f }
                knownNames += files.map(\.name)
            }
            #expect(registry.fileCount == model.files.values.map(\.count).reduce(0, +))
            for _ in 0..<3 {
                let exact = Bool.random(using: &g)
                let query = exact ? (knownNames.randomElement(using: &g).map { Bool.random(using: &g) ? SharedName.baseName($0) : $0 } ?? "")
                    : Self.randomQuery(&g, names: knownNames)
                let request = SearchRequest(mode: exact ? .exact : .keyword, query: query,
                                            offset: UInt32.random(in: 0...3, using: &g), limit: UInt32.random(in: 1...10, using: &g))
                let requester = Bool.random(using: &g) ? session : nil
                let expected = model.search(request, excluding: requester, maximumPerPage: 7)
                let got = registry.search(request, excluding: requester)
                if got.total > 0 { answered += 1 }
                #expect(got == expected, "step \(step): \(request.mode) \"\(query)\" offset \(request.offset) limit \(request.limit)")
            }
        }
        #expect(answered > 300, "most queries should match something")
    }

    @Test func namesNobodySharesAreDroppedAndSearchStillAgrees() throws {
        var index = SearchIndex()
        index.deadNamesBeforeRebuild = 4
        var table = SessionTable()
        var model = Model()
        let address = Endpoint(host: "127.0.0.1", port: 7001)
        index.apply(table.connect(1, address: address))
        model.addresses[1] = address
        model.files[1] = [:]
        for round in 0..<30 {
            let files = (0..<3).map { Self.file("round \(round) résumé \($0)", content: round * 3 + $0) }
            index.apply(try table.register(1, files: files))
            for f in files { model.files[1]![f.name] = f }
            let gone = Array(model.files[1]!.keys.sorted().prefix(2))
            index.apply(table.unregister(1, names: gone))
            for name in gone { model.files[1]![name] = nil }
        }
        #expect(index.storedNameCount < 2 * index.fileCount + 8, "dead names were never dropped")
        for query in ["resume", "round 2", "", "9 resume 2"] {
            let request = SearchRequest(mode: .keyword, query: query, limit: 1000)
            #expect(index.search(request) == model.search(request, excluding: nil, maximumPerPage: 1000), "\(query)")
        }
    }

    /// Pages are ordered by whole names, also where names agree on their first 16 bytes (the
    /// heap compares those as two integers first) or one name is the start of another.
    @Test func namesWithLongCommonStartsComeInNameOrder() throws {
        var g = SeededBytes(seed: 5)
        var registry = IndexRegistry()
        var model = Model()
        let address = Endpoint(host: "127.0.0.1", port: 9100)
        registry.connect(1, address: address)
        model.addresses[1] = address
        let stems = ["Long Common Start Of Names/x", "Long Common Start Of Names", "Long Common Start Of Nam", "Long Common", "Long Common Start Of Names/é"]
        let files = (0..<300).map { i in
            let stem = stems.randomElement(using: &g)!
            let tail = i % 3 == 0 ? "" : "\(Int.random(in: 0..<40, using: &g)) song.mp3"
            return Self.file(stem + tail, content: i)
        }
        try registry.register(1, files: files)
        model.files[1] = Dictionary(files.map { ($0.name, $0) }, uniquingKeysWith: { $1 })
        for query in ["long common", "song", ""] {
            for (offset, limit) in [(0, 1000), (0, 7), (13, 50), (200, 100)] {
                let request = SearchRequest(mode: .keyword, query: query, offset: UInt32(offset), limit: UInt32(limit))
                #expect(registry.search(request) == model.search(request, excluding: nil, maximumPerPage: 1000),
                        "\(query) \(offset) \(limit)")
            }
        }
    }

    @Test func pagesWalkTheWholeResultOnceInOrder() throws {
        var g = SeededBytes(seed: 99)
        var registry = IndexRegistry()
        var model = Model()
        for session in UInt64(1)...6 {
            let address = Endpoint(host: "127.0.0.1", port: 9000 + Int(session))
            registry.connect(session, address: address)
            model.addresses[session] = address
            let files = (0..<40).map { i in Self.file("\(Self.randomName(&g)) \(session)-\(i)", content: Int.random(in: 0..<150, using: &g)) }
            try registry.register(session, files: files)
            model.files[session] = Dictionary(files.map { ($0.name, $0) }, uniquingKeysWith: { $1 })
        }
        for query in ["", "ab", "e"] {
            let whole = model.search(SearchRequest(mode: .keyword, query: query, limit: 1000), excluding: 3, maximumPerPage: 1000)
            for pageSize in [1, 7, 50] {
                var walked: [SearchResult] = []
                var offset: UInt32 = 0
                while true {
                    let page = registry.search(SearchRequest(mode: .keyword, query: query, offset: offset, limit: UInt32(pageSize)), excluding: 3)
                    #expect(page.total == whole.total)
                    if page.results.isEmpty { break }
                    walked += page.results
                    offset += UInt32(page.results.count)
                }
                #expect(walked == whole.results, "query \"\(query)\", pages of \(pageSize)")
            }
        }
    }
}
