/// An insert-only open-addressing hash table of 32-bit ids, for looking names and content
/// ids up without storing the keys a second time: a slot holds only an id, and the caller
/// compares the id's key. Several ids may share a key (a multimap: many names end in the
/// same base name). Entries are never removed; the owner rebuilds the table instead.
struct IDHashTable: Sendable {
    private static let empty = UInt32.max
    private var slots: [UInt32] = Array(repeating: IDHashTable.empty, count: 16)
    private(set) var count = 0

    /// Adds `id` under `hash`. `rehash` gives the hash of any id already stored (for growing).
    mutating func insert(_ id: UInt32, hash: Int, rehash: (UInt32) -> Int) {
        if (count + 1) * 2 > slots.count { grow(rehash: rehash) }
        place(id, hash: hash)
        count += 1
    }

    /// Every id stored under `hash` for which `matches` holds.
    func ids(hash: Int, where matches: (UInt32) -> Bool) -> [UInt32] {
        var found: [UInt32] = []
        probe(hash) { id in
            if matches(id) { found.append(id) }
            return true
        }
        return found
    }

    /// The first id stored under `hash` for which `matches` holds.
    func first(hash: Int, where matches: (UInt32) -> Bool) -> UInt32? {
        var found: UInt32?
        probe(hash) { id in
            if matches(id) { found = id; return false }
            return true
        }
        return found
    }

    private func probe(_ hash: Int, _ visit: (UInt32) -> Bool) {
        let mask = slots.count - 1
        var i = hash & mask
        while slots[i] != Self.empty {
            guard visit(slots[i]) else { return }
            i = (i + 1) & mask
        }
    }

    private mutating func place(_ id: UInt32, hash: Int) {
        let mask = slots.count - 1
        var i = hash & mask
        while slots[i] != Self.empty { i = (i + 1) & mask }
        slots[i] = id
    }

    private mutating func grow(rehash: (UInt32) -> Int) {
        let old = slots
        slots = Array(repeating: Self.empty, count: old.count * 2)
        for id in old where id != Self.empty { place(id, hash: rehash(id)) }
    }
}
