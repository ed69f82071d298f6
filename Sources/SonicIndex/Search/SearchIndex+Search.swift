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
    /// names it pops.
    public func search(_ request: SearchRequest, excluding requester: UInt64? = nil) -> SearchResults {
        let matched = matchingNames(request)
        var isMatched = BitSet(count: names.count)
        for id in matched { isMatched.insert(Int(id)) }

        var counted = BitSet(count: contents.count)
        var total = 0
        for name in matched {
            forEachHolding(ofName: name) { h in
                if h.session != requester && counted.insert(Int(h.content)) { total += 1 }
            }
        }

        let limit = min(Int(request.limit), limits.maximumResultsPerPage)
        let wanted = min(Int(request.offset), total) + limit
        var heap = NameHeap(matched, table: names)
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
            let result = group(content, isMatched: isMatched, excluding: requester)
            let size = result.encodedLength
            guard size <= budget else { break }
            budget -= size
            page.append(result)
        }
        return SearchResults(total: UInt32(total), results: page)
    }

    /// Live names matching the request, ascending by id.
    func matchingNames(_ request: SearchRequest) -> [UInt32] {
        let isLive = { (id: UInt32) in firstOfName[Int(id)] != SearchIndex.none }
        switch request.mode {
        case .exact:
            return names.exactMatches(request.query).filter(isLive)
        case .keyword:
            let words = SearchText.words(of: request.query)
            if let candidates = names.candidates(containing: words) {
                return names.filter(candidates, containing: words, isLive: isLive)
            }
            return names.filter(0..<UInt32(names.count), containing: words, isLive: isLive)
        }
    }

    private func forEachHolding(ofName name: UInt32, _ body: (Holding) -> Void) {
        var slot = firstOfName[Int(name)]
        while slot != SearchIndex.none {
            let h = holdings[Int(slot)]
            body(h)
            slot = h.nextOfName
        }
    }

    /// One content's result: the matching names it is shared under and its peers.
    private func group(_ content: UInt32, isMatched: BitSet, excluding requester: UInt64?) -> SearchResult {
        var groupNames = Set<String>()
        var peers = Set<Endpoint>()
        var slot = firstOfContent[Int(content)]
        while slot != SearchIndex.none {
            let h = holdings[Int(slot)]
            if h.session != requester && isMatched.contains(Int(h.name)), let address = addresses[h.session] {
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
struct NameHeap {
    private var ids: [UInt32]
    private let table: NameTable

    init(_ ids: [UInt32], table: NameTable) {
        self.ids = ids
        self.table = table
        var i = ids.count / 2
        while i > 0 {
            i -= 1
            siftDown(i)
        }
    }

    mutating func popFirst() -> UInt32? {
        guard let first = ids.first else { return nil }
        let last = ids.removeLast()
        if !ids.isEmpty {
            ids[0] = last
            siftDown(0)
        }
        return first
    }

    private mutating func siftDown(_ start: Int) {
        var i = start
        while true {
            let left = 2 * i + 1, right = left + 1
            var smallest = i
            if left < ids.count && table.precedes(ids[left], ids[smallest]) { smallest = left }
            if right < ids.count && table.precedes(ids[right], ids[smallest]) { smallest = right }
            if smallest == i { return }
            ids.swapAt(i, smallest)
            i = smallest
        }
    }
}
