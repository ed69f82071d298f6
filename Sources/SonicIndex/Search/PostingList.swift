/// The ids of the names holding one trigram, ascending, stored as delta-encoded varints
/// (about 1.5 bytes an id instead of 4). Ids are only ever appended in increasing order:
/// a name gets its id once and keeps it, and names that lose every holder stay listed
/// (they are skipped at search time and dropped when the index is rebuilt).
struct PostingList: Sendable {
    private var bytes: [UInt8] = []
    private(set) var count = 0
    private var last: UInt32 = 0

    /// Adds `id`, which must not be below the last one; appending the last id again does
    /// nothing (a name holding a trigram twice is listed once).
    mutating func append(_ id: UInt32) {
        if count > 0 && id == last { return }
        precondition(count == 0 || id > last, "posting ids must increase")
        var delta = count == 0 ? id : id - last
        if delta < 0x80 {
            bytes.append(UInt8(delta))
        } else {
            // At most 5 bytes for 32 bits: built in a word, appended at once.
            var encoded: UInt64 = 0, length = 0
            while delta >= 0x80 {
                encoded |= UInt64(UInt8(truncatingIfNeeded: delta) | 0x80) << (8 * length)
                delta >>= 7
                length += 1
            }
            encoded |= UInt64(delta) << (8 * length)
            withUnsafeBytes(of: encoded.littleEndian) { bytes.append(contentsOf: $0.prefix(length + 1)) }
        }
        last = id
        count += 1
    }

    /// Calls `body` with every id, ascending.
    func forEach(_ body: (UInt32) -> Void) {
        bytes.withUnsafeBufferPointer { b in
            var i = 0
            var id: UInt32 = 0
            while i < b.count {
                id &+= Self.nextDelta(b, &i)
                body(id)
            }
        }
    }

    func decoded() -> [UInt32] {
        var ids: [UInt32] = []
        ids.reserveCapacity(count)
        forEach { ids.append($0) }
        return ids
    }

    /// Keeps only the ids of `sorted` (ascending) that are also in this list, in place: one
    /// pass over the list's bytes, no closure per id and no new array.
    func intersect(_ sorted: inout [UInt32]) {
        let kept = bytes.withUnsafeBufferPointer { b in
            sorted.withUnsafeMutableBufferPointer { ids in
                var kept = 0, j = 0, i = 0
                var id: UInt32 = 0
                while i < b.count && j < ids.count {
                    id &+= Self.nextDelta(b, &i)
                    while j < ids.count && ids[j] < id { j += 1 }
                    if j < ids.count && ids[j] == id {
                        ids[kept] = id
                        kept += 1
                        j += 1
                    }
                }
                return kept
            }
        }
        sorted.removeLast(sorted.count - kept)
    }

    /// Decodes the varint at `i` (the first id is stored as its delta from 0) and moves `i` past it.
    @inline(__always)
    private static func nextDelta(_ b: UnsafeBufferPointer<UInt8>, _ i: inout Int) -> UInt32 {
        var delta: UInt32 = 0
        var shift: UInt32 = 0
        while true {
            let byte = b[i]
            i += 1
            delta |= UInt32(byte & 0x7F) << shift
            if byte < 0x80 { return delta }
            shift += 7
        }
    }
}
