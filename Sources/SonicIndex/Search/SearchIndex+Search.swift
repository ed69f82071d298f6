import CSystemShims
import SonicCore
import SonicWire

extension SearchIndex {
    /// The page of result groups for `request`, leaving out the files of `requester`.
    ///
    /// Cost, for a query matching M names: finding them is an intersection of the rarest
    /// trigram lists plus a byte check of each candidate; `total` is a walk over the M
    /// names' holdings marking contents in a bit set; the page comes from a heap of the M
    /// names popped in name order only until `offset + limit` groups are found, and only
    /// those groups are built. So the first 100 of 100 000 matches sorts nothing but the
    /// names it pops. The matches of a query with several words are scattered through the
    /// tables, so the two walks over them prefetch a few names ahead.
    public func search(_ request: SearchRequest, excluding requester: UInt64? = nil) -> SearchResults {
        let matches = matchingNames(request)
        let matched = matches.ids

        var counted = BitSet(count: contents.count)
        var total = 0
        holdings.withUnsafeBufferPointer { allHoldings in
            // The names' first holdings, scattered like the names: asked for ahead (NameTable.filter).
            for (i, name) in matched.enumerated() {
                if i + NameTable.prefetchDistance / 2 < matched.count {
                    prefetchFirstHolding(ofName: matched[i + NameTable.prefetchDistance / 2], allHoldings)
                }
                forEachHolding(ofName: name) { h in
                    if h.session != requester && counted.insert(Int(h.content)) { total += 1 }
                }
            }
        }

        let limit = min(Int(request.limit), limits.maximumResultsPerPage)
        let wanted = min(Int(request.offset), total) + limit
        var heap = NameHeap(matches, table: names)
        var emitted = Set<UInt32>()
        var ordered: [UInt32] = []
        while ordered.count < wanted, let name = heap.popFirst() {
            var fresh: [UInt32] = []
            forEachHolding(ofName: name) { h in
                if h.session != requester && emitted.insert(h.content).inserted { fresh.append(h.content) }
            }
            ordered += fresh.sorted { contents[Int($0)].key < contents[Int($1)].key }
        }

        var page: [SearchResult] = []
        var budget = WireSize.resultsPageBudget
        for content in ordered.dropFirst(Int(request.offset)).prefix(limit) {
            let result = group(content, matched: matched, excluding: requester)
            let size = result.encodedLength
            guard size <= budget else { break }
            budget -= size
            page.append(result)
        }
        return SearchResults(total: UInt32(total), results: page)
    }

    /// Live names matching the request, ascending by id.
    func matchingNames(_ request: SearchRequest) -> NameTable.Matches {
        let isLive = { (id: UInt32) in firstOfName[Int(id)] != SearchIndex.none }
        switch request.mode {
        case .exact:
            let ids = names.exactMatches(request.query).filter(isLive).sorted()
            return NameTable.Matches(ids: ids, sortPrefixes: ids.map(names.sortPrefix(of:)))
        case .keyword:
            let words = SearchText.words(of: request.query)
            let candidates = names.candidates(containing: words) ?? Array(0..<UInt32(names.count))
            return firstOfName.withUnsafeBufferPointer { first in
                names.filter(candidates, containing: words, isLive: isLive) { sonic_prefetch(first.baseAddress! + Int($0)) }
            }
        }
    }

    private func prefetchFirstHolding(ofName name: UInt32, _ all: UnsafeBufferPointer<Holding>) {
        let slot = firstOfName[Int(name)]
        if slot != SearchIndex.none { sonic_prefetch(all.baseAddress! + Int(slot)) }
    }

    private func forEachHolding(ofName name: UInt32, _ body: (Holding) -> Void) {
        var slot = firstOfName[Int(name)]
        while slot != SearchIndex.none {
            let h = holdings[Int(slot)]
            body(h)
            slot = h.nextOfName
        }
    }

    /// One content's result: the matching names (`matched`, ascending) it is shared under and
    /// its peers.
    private func group(_ content: UInt32, matched: [UInt32], excluding requester: UInt64?) -> SearchResult {
        var groupNames = Set<String>()
        var peers = Set<Endpoint>()
        var slot = firstOfContent[Int(content)]
        while slot != SearchIndex.none {
            let h = holdings[Int(slot)]
            if h.session != requester && Self.sortedIDs(matched, contain: h.name), let address = addresses[h.session] {
                groupNames.insert(names[h.name])
                peers.insert(address)
            }
            slot = h.nextOfContent
        }
        let c = contents[Int(content)]
        let sortedNames = groupNames.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        let sortedPeers = peers.sorted { ($0.host, $0.port) < ($1.host, $1.port) }
        return SearchResult(
            contentID: c.id, size: c.size, fileHash: c.fileHash,
            names: Array(sortedNames.prefix(WireLimits.maximumPeersPerResult)),
            peers: Array(sortedPeers.prefix(WireLimits.maximumPeersPerResult)))
    }
}

extension SearchIndex {
    /// Whether `ids`, ascending, contain `id`: a binary search.
    static func sortedIDs(_ ids: [UInt32], contain id: UInt32) -> Bool {
        var low = 0, high = ids.count
        while low < high {
            let middle = (low + high) / 2
            if ids[middle] < id { low = middle + 1 } else { high = middle }
        }
        return low < ids.count && ids[low] == id
    }
}

/// A set of the integers below `count`, one bit each: marking 100 000 matches costs no hashing.
struct BitSet {
    private var words: [UInt64]
    private(set) var count: Int

    init(count: Int) {
        words = Array(repeating: 0, count: (count + 63) / 64)
        self.count = count
    }

    func contains(_ i: Int) -> Bool {
        words[i >> 6] & (1 << UInt64(i & 63)) != 0
    }

    /// Adds `i`; true if it was not there yet.
    /// Adds one more integer at the end, in or out of the set.
    mutating func append(_ member: Bool) {
        if count % 64 == 0 { words.append(0) }
        if member { words[count >> 6] |= 1 << UInt64(count & 63) }
        count += 1
    }

    @discardableResult
    mutating func insert(_ i: Int) -> Bool {
        let bit: UInt64 = 1 << UInt64(i & 63)
        let was = words[i >> 6] & bit
        words[i >> 6] |= bit
        return was == 0
    }
}

/// A binary min-heap of name ids in name order: built in linear time, so taking the first
/// k of M names costs M + k log M comparisons instead of sorting all M.
///
/// Each entry carries the first 16 bytes of its name (big-endian, zero-padded), so most
/// comparisons are two integer compares; only names that agree on all 16 bytes are compared
/// in the arena. The keys come with the matches (``NameTable/filter(_:containing:isLive:prefetch:)``
/// takes them while it checks the bytes), so building the heap touches no name again.
struct NameHeap {
    private struct Entry {
        var high: UInt64, low: UInt64
        var id: UInt32
    }

    private var entries: [Entry]
    private let table: NameTable

    init(_ matches: NameTable.Matches, table: NameTable) {
        self.table = table
        entries = zip(matches.ids, matches.sortPrefixes).map { id, prefix in
            Entry(high: prefix.high, low: prefix.low, id: id)
        }
        var i = entries.count / 2
        while i > 0 {
            i -= 1
            siftDown(i)
        }
    }

    mutating func popFirst() -> UInt32? {
        guard let first = entries.first else { return nil }
        let last = entries.removeLast()
        if !entries.isEmpty {
            entries[0] = last
            siftDown(0)
        }
        return first.id
    }

    private func precedes(_ a: Entry, _ b: Entry) -> Bool {
        if a.high != b.high { return a.high < b.high }
        if a.low != b.low { return a.low < b.low }
        return table.precedes(a.id, b.id)
    }

    private mutating func siftDown(_ start: Int) {
        var i = start
        while true {
            let left = 2 * i + 1, right = left + 1
            var smallest = i
            if left < entries.count && precedes(entries[left], entries[smallest]) { smallest = left }
            if right < entries.count && precedes(entries[right], entries[smallest]) { smallest = right }
            if smallest == i { return }
            entries.swapAt(i, smallest)
            i = smallest
        }
    }
}
