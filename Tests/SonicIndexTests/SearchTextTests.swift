import SonicCore
import SonicIndex
import SonicWire
import Testing

@Suite struct SearchTextTests {
    func matches(_ query: String, _ name: String) -> Bool {
        let folded = SearchText.fold(name)
        return SearchText.words(of: query).allSatisfy { word in
            folded.count >= word.count && (0...(folded.count - word.count)).contains { Array(folded[$0..<$0 + word.count]) == word }
        }
    }

    @Test func caseAndAccentsAreIgnored() {
        #expect(matches("resume", "Résumé.pdf"))
        #expect(matches("RÉSUMÉ", "resume.pdf"))
        #expect(matches("résumé", "re\u{301}sume\u{301}.txt"))  // decomposed on disk, composed in the query
        #expect(matches("uni", "ÜNÏcødé"))
        #expect(matches("file", "ﬁle.txt"))  // a ligature
        #expect(matches("istanbul", "İstanbul"))
        #expect(matches("ωμεγα", "ΩΜΈΓΑ"))
        #expect(!matches("resumes", "Résumé.pdf"))
        #expect(!matches("o", "ø"))  // a letter of its own, not o plus a mark
    }

    @Test func anEmptyOrBlankQueryHasNoWords() {
        #expect(SearchText.words(of: "").isEmpty)
        #expect(SearchText.words(of: " \t ").isEmpty)
        #expect(SearchText.words(of: "a \u{301}").count == 1)  // a lone accent folds to nothing
    }

    @Test func theIndexFindsAccentedNamesWithoutAccents() throws {
        var r = IndexRegistry()
        r.connect(1, address: Endpoint(host: "127.0.0.1", port: 6001))
        let id = ContentID(SHA256Hash.of([1]))
        try r.register(1, files: [SharedFile(name: "cv/Résumé 2026.pdf", size: 1, contentID: id, fileHash: id.hash)])
        #expect(r.search(.init(mode: .keyword, query: "resume 2026")).results.map(\.name) == ["cv/Résumé 2026.pdf"])
        #expect(r.search(.init(mode: .keyword, query: "RESUME pdf")).total == 1)
        #expect(r.search(.init(mode: .keyword, query: "resume 2027")).total == 0)
    }
}
