import SonicCore
@testable import SonicIndex
import Testing

/// The compact forms the index keeps instead of `String`s and hash arrays.
@Suite struct CompactStorageTests {
    @Test func aPackedHashGivesBackItsBytesAndSortsLikeThem() {
        let hashes = (0..<64).map { SHA256Hash.of(Array("content \($0)".utf8)) }
        for hash in hashes { #expect(PackedHash(hash).hash == hash) }
        let byPacked = hashes.sorted { PackedHash($0) < PackedHash($1) }
        #expect(byPacked == hashes.sorted())
    }

    @Test func nameKeysAreEqualExactlyWhenTheNamesAreEqualStrings() {
        #expect(NameKey("re\u{301}sume\u{301}.pdf") == NameKey("résumé.pdf"))  // canonically equivalent
        #expect(NameKey("a/b.mp3") != NameKey("a/B.mp3"))
        let keys = Set((0..<10_000).map { NameKey("dir/file \($0).mp3") })
        #expect(keys.count == 10_000)
    }

    @Test func aNameTableStoresASCIIAndOtherNamesAlike() {
        var table = NameTable()
        let names = ["Music/ABBA.mp3", "Résumé.pdf", "ﬁle.txt", "東京/夜.flac", "plain"]
        let ids = names.map { table.intern($0) }
        #expect(ids.map { table[$0] } == names)
        #expect(names.map { table.intern($0) } == ids)
        let all = ids.sorted()
        #expect(table.filter(all, containing: SearchText.words(of: "abba"), isLive: { _ in true }) == [ids[0]])
        #expect(table.filter(all, containing: SearchText.words(of: "RESUME"), isLive: { _ in true }) == [ids[1]])
        #expect(table.filter(all, containing: SearchText.words(of: "file"), isLive: { _ in true }) == [ids[2]])
        #expect(table.filter(all, containing: SearchText.words(of: "夜"), isLive: { _ in true }) == [ids[3]])
        #expect(table.exactMatches("夜.flac") == [ids[3]])
        #expect(table.precedes(ids[0], ids[4]) && !table.precedes(ids[4], ids[0]))
    }
}
