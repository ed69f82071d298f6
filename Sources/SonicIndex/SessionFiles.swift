/// One session's files: the slot of each name it shares, by ``NameKey``.
///
/// An open-addressing hash table with linear probing, in two parallel arrays (keys and
/// slots), filled up to 7/8 before it doubles. A `Dictionary<NameKey, UInt32>` keeps at most
/// 3/4 of its buckets full and a bitmap besides: a session of 100 files took 256 buckets
/// (5 KiB); here it takes 128 (2.5 KiB), which at 10 000 such sessions is 25 MiB less. The
/// keys are SipHash outputs, so their own bits place them; no hashing again.
struct SessionFiles: Sendable {
    private static let vacant = UInt32.max
    private var keys: [NameKey] = []
    /// The slot held under `keys[i]`, or ``vacant``.
    private var slots: [UInt32] = []
    private(set) var count = 0

    /// The slot of the file named by `key`.
    func slot(of key: NameKey) -> UInt32? {
        guard !slots.isEmpty else { return nil }
        let mask = slots.count - 1
        var i = key.bucket & mask
        while slots[i] != Self.vacant {
            if keys[i] == key { return slots[i] }
            i = (i + 1) & mask
        }
        return nil
    }

    /// Records `slot` under `key`, which must not be present yet.
    mutating func insert(_ key: NameKey, slot: UInt32) {
        if (count + 1) * 8 > slots.count * 7 { resize(to: max(8, slots.count * 2)) }
        place(key, slot)
        count += 1
    }

    /// Forgets `key`; returns the slot it held.
    mutating func remove(_ key: NameKey) -> UInt32? {
        guard !slots.isEmpty else { return nil }
        let mask = slots.count - 1
        var i = key.bucket & mask
        while slots[i] != Self.vacant {
            if keys[i] == key { break }
            i = (i + 1) & mask
        }
        let removed = slots[i]
        guard removed != Self.vacant else { return nil }
        // Backward-shift deletion: move later entries of the run into the hole when their
        // home bucket allows it, so that lookups never need tombstones.
        var hole = i
        var j = (i + 1) & mask
        while slots[j] != Self.vacant {
            let home = keys[j].bucket & mask
            // Entry j may move to the hole when its home is not cyclically inside (hole, j].
            if (j > hole && (home <= hole || home > j)) || (j < hole && (home <= hole && home > j)) {
                keys[hole] = keys[j]
                slots[hole] = slots[j]
                hole = j
            }
            j = (j + 1) & mask
        }
        slots[hole] = Self.vacant
        count -= 1
        return removed
    }

    /// Every slot held, in no particular order.
    var allSlots: [UInt32] { slots.filter { $0 != Self.vacant } }

    private mutating func place(_ key: NameKey, _ slot: UInt32) {
        let mask = slots.count - 1
        var i = key.bucket & mask
        while slots[i] != Self.vacant { i = (i + 1) & mask }
        keys[i] = key
        slots[i] = slot
    }

    private mutating func resize(to buckets: Int) {
        let (oldKeys, oldSlots) = (keys, slots)
        keys = Array(repeating: NameKey.zero, count: buckets)
        slots = Array(repeating: Self.vacant, count: buckets)
        for (key, slot) in zip(oldKeys, oldSlots) where slot != Self.vacant { place(key, slot) }
    }
}
