import SonicCore

/// Every distinct name the index knows, each stored once under a 32-bit id, with what
/// searching needs: its folded bytes (``SearchText``), lookups by whole name and by last
/// path component, and a trigram index over the folded bytes.
///
/// Names live end to end in one byte arena, not as a `String` each: a million `String`s cost
/// a heap object apiece (about 80 bytes beside the name's own bytes), the arena costs 4 bytes
/// of offset. A `String` is made only for a name that goes out in a result.
///
/// Ids are handed out in order and never reused, so every posting list stays sorted by
/// appending. A name whose last holder left keeps its id (a seeder that comes back reuses
/// it); ``SearchIndex`` rebuilds the table when such names outnumber the live ones.
struct NameTable: Sendable {
    /// All names' UTF-8 end to end; name `i` ends at `ends[i]`.
    private var bytes: [UInt8] = []
    private var ends: [UInt32] = []
    /// The folded bytes of the names that are not plain ASCII, end to end; name `i` ends at
    /// `foldedEnds[i]`. A plain ASCII name's folding is its own bytes lowercased, so it adds
    /// nothing here (its range is empty) and is lowercased while matching instead: most
    /// names are ASCII, and this saves a second copy of them.
    private var folded: [UInt8] = []
    private var foldedEnds: [UInt32] = []
    private var isASCII = BitSet(count: 0)
    private var byName = IDHashTable()
    private var byBaseName = IDHashTable()
    private var trigrams = TrigramIndex()

    var count: Int { ends.count }

    subscript(id: UInt32) -> String { String(decoding: utf8(of: id), as: UTF8.self) }

    /// The UTF-8 bytes of name `id`.
    func utf8(of id: UInt32) -> ArraySlice<UInt8> {
        bytes[start(of: id)..<Int(ends[Int(id)])]
    }

    private func start(of id: UInt32) -> Int { id == 0 ? 0 : Int(ends[Int(id) - 1]) }

    /// Names compare as `String`s do (canonically equivalent spellings are one name), as the
    /// session table keys them: a `String` hash, and a `String` made only on a hash hit.
    func id(of name: String) -> UInt32? {
        byName.first(hash: name.hashValue) { self[$0] == name }
    }

    /// The id of `name`, adding it if it is new.
    mutating func intern(_ name: String) -> UInt32 {
        let hash = name.hashValue
        if let id = byName.first(hash: hash, where: { self[$0] == name }) { return id }
        let id = UInt32(ends.count)
        bytes.append(contentsOf: name.utf8)
        ends.append(UInt32(bytes.count))
        let foldedName = SearchText.fold(name)
        let ascii = name.utf8.allSatisfy { $0 < 0x80 }
        isASCII.append(ascii)
        if !ascii { folded.append(contentsOf: foldedName) }
        foldedEnds.append(UInt32(folded.count))
        trigrams.add(id, folded: foldedName)
        // The rehash closures capture the arena, not `self`: a copy of `self` would hold the
        // very hash table being grown and make every insert copy it.
        let (arena, arenaEnds) = (bytes, ends)
        func stored(_ id: UInt32) -> String {
            String(decoding: arena[(id == 0 ? 0 : Int(arenaEnds[Int(id) - 1]))..<Int(arenaEnds[Int(id)])], as: UTF8.self)
        }
        byName.insert(id, hash: hash) { stored($0).hashValue }
        if let base = Self.nestedBaseName(name) {
            byBaseName.insert(id, hash: base.hashValue) { SharedName.baseName(stored($0)).hashValue }
        }
        return id
    }

    /// The last path component of a name that has more than one, else nil. Byte for byte
    /// ``SharedName/baseName(_:)`` for a safe name (no empty component), without splitting.
    private static func nestedBaseName(_ name: String) -> String? {
        let utf8 = name.utf8
        guard let slash = utf8.lastIndex(of: UInt8(ascii: "/")) else { return nil }
        return String(utf8[utf8.index(after: slash)...])
    }

    // MARK: Matching

    /// Names equal to `query`, or whose last path component is (case-sensitive).
    func exactMatches(_ query: String) -> [UInt32] {
        var ids = id(of: query).map { [$0] } ?? []
        ids += byBaseName.ids(hash: query.hashValue) { SharedName.baseName(self[$0]) == query }
        return ids
    }

    /// Ids that may contain every word (a superset, ascending), from the trigram index; nil
    /// when no word is long enough to have a trigram, so every name is a candidate.
    func candidates(containing words: [[UInt8]]) -> [UInt32]? {
        trigrams.candidates(containing: words)
    }

    /// The ids among `ids` whose folded name contains every word and that `isLive`.
    func filter(_ ids: some Sequence<UInt32>, containing words: [[UInt8]], isLive: (UInt32) -> Bool) -> [UInt32] {
        folded.withUnsafeBufferPointer { allFolded in
            bytes.withUnsafeBufferPointer { allNames in
                var kept: [UInt32] = []
                for id in ids where isLive(id) {
                    let ascii = isASCII.contains(Int(id))
                    let name = ascii
                        ? UnsafeBufferPointer(rebasing: allNames[start(of: id)..<Int(ends[Int(id)])])
                        : UnsafeBufferPointer(rebasing: allFolded[(id == 0 ? 0 : Int(foldedEnds[Int(id) - 1]))..<Int(foldedEnds[Int(id)])])
                    if words.allSatisfy({ SearchText.contains(name, $0, lowercasing: ascii) }) { kept.append(id) }
                }
                return kept
            }
        }
    }

    // MARK: Order

    /// True when name `a` sorts before name `b` (by UTF-8 bytes).
    func precedes(_ a: UInt32, _ b: UInt32) -> Bool {
        bytes.withUnsafeBufferPointer { all in
            let sa = start(of: a), ea = Int(ends[Int(a)]), sb = start(of: b), eb = Int(ends[Int(b)])
            let common = min(ea - sa, eb - sb)
            var i = 0
            while i < common {
                let x = all[sa + i], y = all[sb + i]
                if x != y { return x < y }
                i += 1
            }
            return ea - sa < eb - sb
        }
    }
}
