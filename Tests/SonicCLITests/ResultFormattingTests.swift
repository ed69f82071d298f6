import SonicCLI
import SonicCore
import SonicWire
import Testing

@Suite("ResultFormatting")
struct ResultFormattingTests {
    static let long = SearchResult(contentID: ContentID(SHA256Hash.of([1])), size: 1 << 20, fileHash: SHA256Hash.of([2]),
                                   names: [String(repeating: "long name ", count: 28) + ".iso", "copy.iso"],
                                   peers: [Endpoint(host: "127.0.0.1", port: 1)])

    @Test func showsTheSHA256AndEveryOtherNameCount() {
        let lines = ResultFormatting.table([Self.long])
        #expect(lines[0].hasPrefix("NAME") && lines[0].contains("SHA-256"))
        #expect(lines[1].contains(String(SHA256Hash.of([2]).hex.prefix(12))))
        #expect(!lines[1].contains(ContentID(SHA256Hash.of([1])).shortHex))
        #expect(lines[1].contains("(+1 other name)"))
    }

    @Test func rowsFitTheGivenWidthAndStayWholeWithout() {
        #expect(ResultFormatting.table([Self.long], width: 80).allSatisfy { $0.count <= 80 })
        #expect(ResultFormatting.table([Self.long]).contains { $0.count > 280 })
    }
}
