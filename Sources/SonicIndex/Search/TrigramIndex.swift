/// Posting lists by trigram: for each trigram of folded bytes, the ascending ids of the
/// names holding it.
///
/// Registering a million names appends about 25 million postings, so finding a trigram's
/// list must cost no hashing: trigrams of ASCII bytes (nearly all of them) index a flat
/// table of 2²¹ list numbers directly (8 MiB); other trigrams go through a dictionary.
struct TrigramIndex: Sendable {
    /// List number + 1 per ASCII trigram (7 bits a byte), 0 when it has no list yet.
    private var asciiLists: [UInt32] = []
    private var otherLists: [UInt32: UInt32] = [:]
    private var lists: [PostingList] = []

    /// Adds name `id`, whose folded bytes are `folded` (with `lowercasing`, the ASCII
    /// lowercasing of `folded`). Ids must be added in increasing order.
    ///
    /// The lists are found (and created) first, then appended to in one pass over the list
    /// array: a million names make 25 million appends, and each access through the array
    /// would check again that it is not shared.
    mutating func add(_ id: UInt32, folded: UnsafeBufferPointer<UInt8>, lowercasing: Bool) {
        guard folded.count >= 3 else { return }
        withUnsafeTemporaryAllocation(of: UInt32.self, capacity: folded.count - 2) { numbers in
            var n = 0
            let bytes = folded.lazy.map { lowercasing ? SearchText.lowercased($0) : $0 }
            SearchText.forEachTrigram(of: bytes) { key in
                numbers[n] = listNumber(creating: key)
                n += 1
            }
            lists.withUnsafeMutableBufferPointer { lists in
                for number in numbers[..<n] { lists[Int(number)].append(id) }
            }
        }
    }

    /// Ids that may contain every word (a superset, ascending); nil when no word is long
    /// enough to have a trigram, so every name is a candidate.
    ///
    /// Only the rarest lists are intersected: a list much longer than the candidates found
    /// so far removes few of them, and checking a candidate's bytes costs less than walking
    /// the list.
    func candidates(containing words: [[UInt8]]) -> [UInt32]? {
        var keys = Set<UInt32>()
        for word in words { SearchText.forEachTrigram(of: word) { keys.insert($0) } }
        guard !keys.isEmpty else { return nil }
        var found: [PostingList] = []
        for key in keys {
            guard let list = listNumber(key) else { return [] }
            found.append(lists[Int(list)])
        }
        found.sort { $0.count < $1.count }
        var ids = found[0].decoded()
        for list in found.dropFirst() where !ids.isEmpty && list.count <= ids.count * 8 {
            list.intersect(&ids)
        }
        return ids
    }

    private static func asciiSlot(_ key: UInt32) -> Int? {
        guard key & 0x80_8080 == 0 else { return nil }
        return Int((key >> 16) << 14 | (key >> 8 & 0x7F) << 7 | key & 0x7F)
    }

    private func listNumber(_ key: UInt32) -> UInt32? {
        if let slot = Self.asciiSlot(key) {
            guard slot < asciiLists.count, asciiLists[slot] != 0 else { return nil }
            return asciiLists[slot] - 1
        }
        return otherLists[key]
    }

    private mutating func listNumber(creating key: UInt32) -> UInt32 {
        if let slot = Self.asciiSlot(key) {
            if asciiLists.isEmpty { asciiLists = Array(repeating: 0, count: 1 << 21) }
            if asciiLists[slot] == 0 {
                lists.append(PostingList())
                asciiLists[slot] = UInt32(lists.count)
            }
            return asciiLists[slot] - 1
        }
        if let list = otherLists[key] { return list }
        lists.append(PostingList())
        otherLists[key] = UInt32(lists.count - 1)
        return UInt32(lists.count - 1)
    }
}
