import CSystemShims

/// An insert-only open-addressing hash table of 32-bit ids, for looking names and content
/// ids up without storing the keys a second time: a slot holds an id and 32 bits of its
/// key's hash, and the caller compares the id's key only when those bits match. Several ids
/// may share a key (a multimap: many names end in the same base name). Entries are never
/// removed; the owner rebuilds the table instead.
///
/// The hash bits in the slot are what makes registering a million names cheap: a probe that
/// passes other ids' slots (about one in two at the table's load) would otherwise read
/// their keys, a cache miss each, and growing would hash every stored key again.
struct IDHashTable: Sendable {
    /// A slot: the hash's low 32 bits above the id; all ones when empty (no id is `UInt32.max`).
    private static let empty = UInt64.max
    private var slots: [UInt64] = Array(repeating: IDHashTable.empty, count: 16)
    private(set) var count = 0

    /// Adds `id` under `hash`.
    mutating func insert(_ id: UInt32, hash: Int) {
        if (count + 1) * 2 > slots.count { grow() }
        place(UInt64(Self.tag(hash)) << 32 | UInt64(id))
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

    /// Asks the processor for the slot a lookup of `hash` starts at (a batch of lookups
    /// overlaps their cache misses this way; see ``SearchIndex/apply(_:)``).
    func prefetch(hash: Int) {
        slots.withUnsafeBufferPointer { sonic_prefetch($0.baseAddress! + Int(Self.tag(hash)) & ($0.count - 1)) }
    }

    private static func tag(_ hash: Int) -> UInt32 { UInt32(truncatingIfNeeded: hash) }

    /// Calls `visit` with each id stored under `hash`'s 32 bits until it returns false.
    private func probe(_ hash: Int, _ visit: (UInt32) -> Bool) {
        let tag = Self.tag(hash)
        slots.withUnsafeBufferPointer { slots in
            let mask = slots.count - 1
            var i = Int(tag) & mask
            while slots[i] != Self.empty {
                if UInt32(truncatingIfNeeded: slots[i] >> 32) == tag {
                    guard visit(UInt32(truncatingIfNeeded: slots[i])) else { return }
                }
                i = (i + 1) & mask
            }
        }
    }

    private mutating func place(_ slot: UInt64) {
        slots.withUnsafeMutableBufferPointer { slots in
            let mask = slots.count - 1
            var i = Int(slot >> 32) & mask
            while slots[i] != Self.empty { i = (i + 1) & mask }
            slots[i] = slot
        }
    }

    private mutating func grow() {
        let old = slots
        slots = Array(repeating: Self.empty, count: old.count * 2)
        for slot in old where slot != Self.empty { place(slot) }
    }
}
