import SonicCore

/// A SHA-256 digest held inline as four words. ``SHA256Hash`` keeps its bytes in an array,
/// a heap object of its own: two per content (content id and file hash) cost about 160
/// bytes a file at a million files, against 64 here.
struct PackedHash: Hashable, Sendable, Comparable {
    private var a: UInt64, b: UInt64, c: UInt64, d: UInt64

    init(_ hash: SHA256Hash) {
        (a, b, c, d) = hash.bytes.withUnsafeBytes { raw in
            // Big-endian words, so that comparing words compares bytes.
            (UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 0, as: UInt64.self)),
             UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self)),
             UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 16, as: UInt64.self)),
             UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 24, as: UInt64.self)))
        }
    }

    var hash: SHA256Hash {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(SHA256Hash.byteCount)
        for word in [a, b, c, d] { withUnsafeBytes(of: word.bigEndian) { bytes += $0 } }
        return SHA256Hash(bytes: bytes)!
    }

    static func < (l: PackedHash, r: PackedHash) -> Bool {
        (l.a, l.b, l.c, l.d) < (r.a, r.b, r.c, r.d)
    }
}
