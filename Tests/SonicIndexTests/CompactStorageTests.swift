import SonicCore
@testable import SonicIndex
import SonicTestSupport
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

    @Test func sessionFilesAgreeWithADictionaryThroughInsertsAndRemovals() {
        var g = SeededBytes(seed: 7)
        var files = SessionFiles()
        var model: [NameKey: UInt32] = [:]
        let keys = (0..<600).map { NameKey("dir/file \($0).mp3") }
        for step in 0..<20_000 {
            let key = keys[Int.random(in: 0..<keys.count, using: &g)]
            if Bool.random(using: &g) || model[key] != nil && Int.random(in: 0..<3, using: &g) == 0 {
                #expect(files.remove(key) == model.removeValue(forKey: key), "step \(step)")
            } else if model[key] == nil {
                files.insert(key, slot: UInt32(step))
                model[key] = UInt32(step)
            }
            #expect(files.count == model.count)
            if step % 97 == 0 {
                for key in keys { #expect(files.slot(of: key) == model[key], "step \(step)") }
                #expect(files.allSlots.sorted() == model.values.sorted())
            }
        }
    }

    @Test func aNameTableStoresASCIIAndOtherNamesAlike() {
        var table = NameTable()
        let names = ["Music/ABBA.mp3", "Résumé.pdf", "ﬁle.txt", "東京/夜.flac", "plain"]
        let ids = names.map { table.intern($0) }
        #expect(ids.map { table[$0] } == names)
        #expect(names.map { table.intern($0) } == ids)
        let all = ids.sorted()
        #expect(table.filter(all, containing: SearchText.words(of: "abba"), isLive: { _ in true }).ids == [ids[0]])
        #expect(table.filter(all, containing: SearchText.words(of: "RESUME"), isLive: { _ in true }).ids == [ids[1]])
        #expect(table.filter(all, containing: SearchText.words(of: "file"), isLive: { _ in true }).ids == [ids[2]])
        #expect(table.filter(all, containing: SearchText.words(of: "夜"), isLive: { _ in true }).ids == [ids[3]])
        #expect(table.exactMatches("夜.flac") == [ids[3]])
        #expect(table.precedes(ids[0], ids[4]) && !table.precedes(ids[4], ids[0]))
        // Names are equal as `String`s are, whichever spelling came first: U+212A KELVIN SIGN is `K`.
        let kelvin = table.intern("\u{212A}elvin.txt")
        #expect(table.intern("Kelvin.txt") == kelvin)
        #expect(table.id(of: "Kelvin.txt") == kelvin)
        #expect(table.intern("kelvin.txt") != kelvin)
    }
    /// Keys that share the 32 hash bits a slot keeps (here every key has one of three) are
    /// told apart by the caller's comparison, through every growth of the table.
    @Test func anIDHashTableFindsEveryIDWhenKeysShareTheirHashBits() {
        var table = IDHashTable()
        let keyOf = (0..<2_000).map { UInt32($0 % 700) }  // several ids per key: a multimap
        func hash(_ key: UInt32) -> Int { Int(key) << 32 | Int(key % 3) }
        for (id, key) in keyOf.enumerated() { table.insert(UInt32(id), hash: hash(key)) }
        #expect(table.count == keyOf.count)
        for key in UInt32(0)..<700 {
            let expected = keyOf.indices.filter { keyOf[$0] == key }.map(UInt32.init)
            #expect(table.ids(hash: hash(key)) { keyOf[Int($0)] == key }.sorted() == expected)
            let first = table.first(hash: hash(key)) { keyOf[Int($0)] == key }
            #expect(first.map { keyOf[Int($0)] } == key)
        }
        #expect(table.first(hash: hash(700)) { keyOf[Int($0)] == 700 } == nil)
    }

    @Test func aPostingListKeepsGapsOfEveryVarintLengthAndIntersects() {
        var ids: [UInt32] = [0, 1, 127, 128, 16_511, 16_512, 2_113_663, 2_113_664, 270_549_119, 270_549_120,
                             UInt32.max - 1]
        var list = PostingList()
        for id in ids { list.append(id) }
        list.append(ids.last!)  // the same id again is listed once
        #expect(list.count == ids.count)
        #expect(list.decoded() == ids)
        var wanted: [UInt32] = [1, 2, 16_512, 270_549_119, UInt32.max - 1, UInt32.max]
        list.intersect(&wanted)
        #expect(wanted == [1, 16_512, 270_549_119, UInt32.max - 1])
        ids.removeAll()
        list.forEach { ids.append($0) }
        #expect(ids == list.decoded())
    }
}
