import SonicCore
import SonicSwarm
import SonicWire
import Testing

@Suite("ContentChoice")
struct ContentChoiceTests {
    static func result(_ seed: UInt8, _ names: [String]) -> SearchResult {
        SearchResult(contentID: ContentID(SHA256Hash.of([seed, 1])), size: 10, fileHash: SHA256Hash.of([seed]),
                     names: names, peers: [Endpoint(host: "127.0.0.1", port: 6000 + Int(seed))])
    }

    @Test func anExactFullNameWinsOverALastComponentMatch() {
        let top = Self.result(1, ["readme.txt"])
        let nested = Self.result(2, ["sub/readme.txt"])
        #expect(ContentChoice.choose(from: [nested, top], name: "readme.txt", hashPrefix: nil) == .chosen(top))
        #expect(ContentChoice.choose(from: [nested, top], name: "sub/readme.txt", hashPrefix: nil) == .chosen(nested))
        let alsoTop = Self.result(3, ["readme.txt"])
        #expect(ContentChoice.choose(from: [top, alsoTop], name: "readme.txt", hashPrefix: nil) == .ambiguous([top, alsoTop]))
    }

    @Test func hashTakesASHA256PrefixAContentIDPrefixOrAWholeSHA256() {
        let a = Self.result(1, ["x"]), b = Self.result(2, ["x"])
        for prefix in [String(a.fileHash.hex.prefix(8)), String(a.contentID.hex.prefix(8)), a.fileHash.hex,
                       a.fileHash.hex.uppercased()] {
            #expect(ContentChoice.choose(from: [a, b], name: "x", hashPrefix: prefix) == .chosen(a), "\(prefix)")
        }
        #expect(ContentChoice.choose(from: [a, b], name: "x", hashPrefix: "zz") == .noMatchForHash([a, b]))
    }
}
