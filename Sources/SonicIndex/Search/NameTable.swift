import SonicCore

/// Every distinct name the index knows, each stored once under a 32-bit id, with what
/// searching needs: its folded bytes (``SearchText``), a sort key, lookups by whole name and
/// by last path component, and a trigram index over the folded bytes.
///
/// Ids are handed out in order and never reused, so every posting list stays sorted by
/// appending. A name whose last holder left keeps its id (a seeder that comes back reuses
/// it); ``SearchIndex`` rebuilds the table when such names outnumber the live ones.
struct NameTable: Sendable {
    private(set) var names: [String] = []
    /// The first 8 bytes of each name's UTF-8, big-endian: most order comparisons end here.
    private var sortKeys: [UInt64] = []
    /// All folded names end to end; name `i` ends at `foldedEnds[i]`.
    private var folded: [UInt8] = []
    private var foldedEnds: [UInt32] = []
    private var byName = IDHashTable()
    private var byBaseName = IDHashTable()
    private var postings: [UInt32: PostingList] = [:]

    var count: Int { names.count }

    subscript(id: UInt32) -> String { names[Int(id)] }

    func id(of name: String) -> UInt32? {
        byName.first(hash: name.hashValue) { names[Int($0)] == name }
    }

    /// The id of `name`, adding it if it is new.
    mutating func intern(_ name: String) -> UInt32 {
        if let id = id(of: name) { return id }
        let id = UInt32(names.count)
        names.append(name)
        sortKeys.append(Self.sortKey(name))
        let foldedName = SearchText.fold(name)
        folded.append(contentsOf: foldedName)
        foldedEnds.append(UInt32(folded.count))
        SearchText.forEachTrigram(of: foldedName) { postings[$0, default: PostingList()].append(id) }
        let all = names
        byName.insert(id, hash: name.hashValue) { all[Int($0)].hashValue }
        let base = SharedName.baseName(name)
        if base != name {
            byBaseName.insert(id, hash: base.hashValue) { SharedName.baseName(all[Int($0)]).hashValue }
        }
        return id
    }

    // MARK: Matching

    /// Names equal to `query`, or whose last path component is (case-sensitive).
    func exactMatches(_ query: String) -> [UInt32] {
        var ids = id(of: query).map { [$0] } ?? []
        ids += byBaseName.ids(hash: query.hashValue) { SharedName.baseName(names[Int($0)]) == query }
        return ids
    }

    /// Ids that may contain every word (a superset, ascending), from the trigram index; nil
    /// when no word is long enough to have a trigram, so every name is a candidate.
    ///
    /// Only the rarest lists are intersected: a list much longer than the candidates found
    /// so far removes few of them, and checking a candidate's bytes costs less than walking
    /// the list.
    func candidates(containing words: [[UInt8]]) -> [UInt32]? {
        var keys = Set<UInt32>()
        for word in words { SearchText.forEachTrigram(of: word) { keys.insert($0) } }
        guard !keys.isEmpty else { return nil }
        var lists: [PostingList] = []
        for key in keys {
            guard let list = postings[key] else { return [] }
            lists.append(list)
        }
        lists.sort { $0.count < $1.count }
        var ids = lists[0].decoded()
        for list in lists.dropFirst() where !ids.isEmpty && list.count <= ids.count * 8 {
            ids = list.intersection(with: ids)
        }
        return ids
    }

    /// The ids among `ids` whose folded name contains every word and that `isLive`.
    func filter(_ ids: some Sequence<UInt32>, containing words: [[UInt8]], isLive: (UInt32) -> Bool) -> [UInt32] {
        folded.withUnsafeBufferPointer { all in
            var kept: [UInt32] = []
            for id in ids where isLive(id) {
                let end = Int(foldedEnds[Int(id)])
                let start = id == 0 ? 0 : Int(foldedEnds[Int(id) - 1])
                let name = UnsafeBufferPointer(rebasing: all[start..<end])
                if words.allSatisfy({ SearchText.contains(name, $0) }) { kept.append(id) }
            }
            return kept
        }
    }

    // MARK: Order

    /// True when name `a` sorts before name `b` (by UTF-8 bytes).
    func precedes(_ a: UInt32, _ b: UInt32) -> Bool {
        let ka = sortKeys[Int(a)], kb = sortKeys[Int(b)]
        if ka != kb { return ka < kb }
        return names[Int(a)].utf8.lexicographicallyPrecedes(names[Int(b)].utf8)
    }

    private static func sortKey(_ name: String) -> UInt64 {
        var key: UInt64 = 0
        var taken = 0
        for byte in name.utf8.prefix(8) {
            key = key << 8 | UInt64(byte)
            taken += 1
        }
        return taken == 8 ? key : key << (8 * UInt64(8 - taken))
    }
}
