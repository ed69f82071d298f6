import CSystemShims
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
    /// session table keys them: a `String` hash, then the bytes when both names are ASCII
    /// (equal exactly when their bytes are), else a `String` made from the stored bytes.
    func id(of name: String) -> UInt32? {
        let ascii = Self.isASCII(name)
        return byName.first(hash: name.hashValue) { isName($0, name, ascii: ascii) }
    }

    private static func isASCII(_ name: String) -> Bool { name.utf8.allSatisfy { $0 < 0x80 } }

    /// True when name `id` is `name` (`ascii`: whether `name` is plain ASCII). A name with
    /// other characters may equal an ASCII one (U+212A KELVIN SIGN is `K`), so only two
    /// ASCII names are compared byte for byte.
    private func isName(_ id: UInt32, _ name: String, ascii: Bool) -> Bool {
        guard ascii && isASCII.contains(Int(id)) else { return self[id] == name }
        let (from, to) = (start(of: id), Int(ends[Int(id)]))
        guard to - from == name.utf8.count else { return false }
        return bytes.withUnsafeBufferPointer { UnsafeBufferPointer(rebasing: $0[from..<to]).elementsEqual(name.utf8) }
    }

    /// The hashes a name is looked up and stored under: the whole name's, and its base
    /// name's if it is nested.
    struct Hashes {
        var name: Int
        var baseName: Int?

        init(_ name: String) {
            self.name = name.hashValue
            baseName = NameTable.nestedBaseName(name)?.hashValue
        }
    }

    /// The id of `name`, adding it if it is new; `hashes` are its ``Hashes`` (computed by a
    /// caller that prefetched with them, ``prefetch(_:)``).
    mutating func intern(_ name: String, hashes: Hashes? = nil) -> UInt32 {
        let hash = hashes?.name ?? name.hashValue
        let ascii = Self.isASCII(name)
        if let id = byName.first(hash: hash, where: { isName($0, name, ascii: ascii) }) { return id }
        let id = UInt32(ends.count)
        bytes.append(contentsOf: name.utf8)
        ends.append(UInt32(bytes.count))
        isASCII.append(ascii)
        if ascii {
            // An ASCII name's folding is its lowercasing: its bytes, now in the arena.
            let from = start(of: id)
            bytes.withUnsafeBufferPointer {
                trigrams.add(id, folded: UnsafeBufferPointer(rebasing: $0[from...]), lowercasing: true)
            }
        } else {
            let foldedName = SearchText.fold(name)
            folded.append(contentsOf: foldedName)
            foldedName.withUnsafeBufferPointer { trigrams.add(id, folded: $0, lowercasing: false) }
        }
        foldedEnds.append(UInt32(folded.count))
        byName.insert(id, hash: hash)
        // Only nested names are in this table: the base name follows the last "/".
        if let baseHash = hashes.map(\.baseName) ?? Self.nestedBaseName(name)?.hashValue {
            byBaseName.insert(id, hash: baseHash)
        }
        return id
    }

    /// Asks for the memory ``intern(_:hashes:)`` of a name with these hashes reads first.
    func prefetch(_ hashes: Hashes) {
        byName.prefetch(hash: hashes.name)
        if let base = hashes.baseName { byBaseName.prefetch(hash: base) }
    }

    /// The last path component of a name that has more than one, else nil. Byte for byte
    /// ``SharedName/baseName(_:)`` for a safe name (no empty component), without splitting.
    fileprivate static func nestedBaseName(_ name: String) -> String? {
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

    /// How many ids ahead ``filter(_:containing:isLive:prefetch:)`` asks for a name's end
    /// offset; its bytes are asked for half as far ahead, once the offset has arrived.
    static let prefetchDistance = 16

    /// Names that matched a query, ascending by id, each with its ``sortPrefix(of:)``.
    struct Matches {
        var ids: [UInt32] = []
        var sortPrefixes: [(high: UInt64, low: UInt64)] = []
    }

    /// The ids among `ids` whose folded name contains every word and that `isLive`, with the
    /// sort prefixes of their names, taken while the bytes are at hand (ordering the matches
    /// later would otherwise miss the cache on every name again).
    ///
    /// The matches of a query with several words are scattered through the tables (every
    /// id costs a few cache and TLB misses), so the loop prefetches: `prefetch` is called
    /// with the id ``prefetchDistance`` ahead (for what `isLive` will read), and the name's
    /// offset and bytes are requested ahead of their turn.
    func filter(_ ids: [UInt32], containing words: [[UInt8]], isLive: (UInt32) -> Bool,
                prefetch: (UInt32) -> Void = { _ in }) -> Matches {
        folded.withUnsafeBufferPointer { allFolded in
            bytes.withUnsafeBufferPointer { allNames in
                ends.withUnsafeBufferPointer { allEnds in
                    var kept = Matches()
                    let far = Self.prefetchDistance, near = far / 2
                    for i in ids.indices {
                        if i + far < ids.count {
                            let ahead = ids[i + far]
                            sonic_prefetch(allEnds.baseAddress! + max(0, Int(ahead) - 1))
                            prefetch(ahead)
                        }
                        if i + near < ids.count {
                            sonic_prefetch(allNames.baseAddress! + start(of: ids[i + near]))
                        }
                        let id = ids[i]
                        guard isLive(id) else { continue }
                        let ascii = isASCII.contains(Int(id))
                        let stored = UnsafeBufferPointer(rebasing: allNames[start(of: id)..<Int(allEnds[Int(id)])])
                        let name = ascii
                            ? stored
                            : UnsafeBufferPointer(rebasing: allFolded[(id == 0 ? 0 : Int(foldedEnds[Int(id) - 1]))..<Int(foldedEnds[Int(id)])])
                        if words.allSatisfy({ SearchText.contains(name, $0, lowercasing: ascii) }) {
                            kept.ids.append(id)
                            kept.sortPrefixes.append(Self.sortPrefix(of: stored))
                        }
                    }
                    return kept
                }
            }
        }
    }

    // MARK: Order

    /// The first 16 bytes of name `id` as two big-endian words, zero-padded: comparing these
    /// orders names as ``precedes(_:_:)`` does, except that names agreeing on all 16 bytes
    /// (or differing only by NUL bytes past their end, which no safe name has) tie.
    func sortPrefix(of id: UInt32) -> (high: UInt64, low: UInt64) {
        bytes.withUnsafeBufferPointer { all in
            Self.sortPrefix(of: UnsafeBufferPointer(rebasing: all[start(of: id)..<Int(ends[Int(id)])]))
        }
    }

    private static func sortPrefix(of name: UnsafeBufferPointer<UInt8>) -> (high: UInt64, low: UInt64) {
        var high: UInt64 = 0, low: UInt64 = 0
        for i in 0..<16 {
            let byte = i < name.count ? UInt64(name[i]) : 0
            if i < 8 { high = high << 8 | byte } else { low = low << 8 | byte }
        }
        return (high, low)
    }

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
