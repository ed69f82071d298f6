import Crypto

/// A SHA-256 digest: 32 bytes, shown as lowercase hex.
///
/// Used for piece hashes, whole-file hashes and (wrapped in ``ContentID``) content ids.
public struct SHA256Hash: Hashable, Sendable, Comparable, CustomStringConvertible {
    public static let byteCount = 32

    /// The 32 digest bytes.
    public let bytes: [UInt8]

    /// Wraps 32 bytes; returns nil for any other length.
    public init?(bytes: some Collection<UInt8>) {
        guard bytes.count == Self.byteCount else { return nil }
        self.bytes = Array(bytes)
    }

    public init(_ digest: SHA256.Digest) {
        self.bytes = Array(digest)
    }

    /// Parses 64 hex digits (either case).
    public init?(hex: String) {
        guard hex.utf8.count == Self.byteCount * 2, let bytes = Hex.decode(hex) else { return nil }
        self.bytes = bytes
    }

    /// The digest of `data`.
    public static func of(_ bytes: [UInt8]) -> SHA256Hash {
        bytes.withUnsafeBytes { of($0) }
    }

    /// The digest of the bytes in `buffer`.
    public static func of(_ buffer: UnsafeRawBufferPointer) -> SHA256Hash {
        var hasher = SHA256()
        hasher.update(bufferPointer: buffer)
        return SHA256Hash(hasher.finalize())
    }

    public var hex: String { Hex.encode(bytes) }

    public var description: String { hex }

    /// True when the hex form starts with `prefix` (case-insensitive).
    public func hasHexPrefix(_ prefix: String) -> Bool {
        hex.hasPrefix(prefix.lowercased())
    }

    public static func < (lhs: SHA256Hash, rhs: SHA256Hash) -> Bool {
        lhs.bytes.lexicographicallyPrecedes(rhs.bytes)
    }

}

/// The identity of a file's content: the SHA-256 of its manifest's canonical encoding
/// (docs/PROTOCOL.md, "Manifest"). Two files with the same bytes have the same content id,
/// whatever their names; swarming only ever happens across peers with the same content id.
public struct ContentID: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let hash: SHA256Hash

    public init(_ hash: SHA256Hash) { self.hash = hash }

    public var hex: String { hash.hex }
    /// The first 12 hex digits: what people see and type (`--hash PREFIX`).
    public var shortHex: String { String(hash.hex.prefix(12)) }
    public var description: String { hash.hex }

    public static func < (lhs: ContentID, rhs: ContentID) -> Bool { lhs.hash < rhs.hash }
}
