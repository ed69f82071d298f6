import Crypto

/// What a file is: its size, its piece size, the SHA-256 of every piece and of the whole file.
///
/// The canonical encoding (docs/PROTOCOL.md, "Manifest") is what the content id hashes and
/// what a peer sends in answer to `MANIFEST`:
///
/// ```
/// +--------+---------+------------+-------------+-------------+--------------+---------------------+
/// | "SNMF" | ver (1) | size (u64) | piece (u32) | count (u32) | file sha(32) | count × piece sha   |
/// +--------+---------+------------+-------------+-------------+--------------+---------------------+
/// ```
/// All integers are big-endian.
public struct Manifest: Hashable, Sendable {
    public static let magic: [UInt8] = Array("SNMF".utf8)
    public static let formatVersion: UInt8 = 1
    /// The piece size of files from 256 MiB to 16 GiB: 1 MiB.
    public static let defaultPieceSize: Int = 1 << 20
    /// Smaller files get smaller pieces, down to this (256 KiB), so that they still have
    /// ``swarmPieceCount`` pieces (``pieceSize(forFileSize:)``).
    public static let smallestDefaultPieceSize: Int = 256 << 10
    /// How many pieces a file below 256 MiB is cut into, piece size permitting.
    ///
    /// A downloader passes a piece on only once it has all of it and verified it, so every
    /// hop of a piece through a swarm takes a piece's time at an uploader's rate, and the
    /// last pieces to leave the seeder set the swarm's tail. Measured in a flash crowd of
    /// eight downloaders on a 64 MiB file (docs/PERFORMANCE.md): 64 pieces of 1 MiB finished
    /// at 9.52 s, 256 pieces of 256 KiB at 8.63 s (ideal 8.0 s).
    public static let swarmPieceCount: Int = 256
    /// Piece size grows (doubling) until a file has at most this many pieces, so that a
    /// manifest stays under ~512 KiB whatever the file size.
    public static let maximumPieceCount: Int = 16_384
    /// Largest piece size a manifest may declare (64 MiB); bounds a client's piece buffer.
    public static let maximumPieceSize: Int = 64 << 20
    /// Size of the fixed header before the piece hashes.
    public static let headerLength = 4 + 1 + 8 + 4 + 4 + 32

    public let fileSize: UInt64
    public let pieceSize: Int
    public let fileHash: SHA256Hash
    public let pieceHashes: [SHA256Hash]

    public init(fileSize: UInt64, pieceSize: Int, fileHash: SHA256Hash, pieceHashes: [SHA256Hash]) {
        precondition(pieceSize > 0 && pieceSize & (pieceSize - 1) == 0, "piece size must be a power of two")
        precondition(pieceHashes.count == Manifest.pieceCount(fileSize: fileSize, pieceSize: pieceSize))
        self.fileSize = fileSize
        self.pieceSize = pieceSize
        self.fileHash = fileHash
        self.pieceHashes = pieceHashes
    }

    public var pieceCount: Int { pieceHashes.count }

    /// Byte range of piece `index` within the file.
    public func range(ofPiece index: Int) -> Range<UInt64> {
        let start = UInt64(index) * UInt64(pieceSize)
        return start..<min(start + UInt64(pieceSize), fileSize)
    }

    public func length(ofPiece index: Int) -> Int {
        let r = range(ofPiece: index)
        return Int(r.upperBound - r.lowerBound)
    }

    /// The piece size for a file of `fileSize` bytes: the smallest power of two from 256 KiB
    /// to 1 MiB that cuts it into at most ``swarmPieceCount`` pieces (1 MiB from 256 MiB
    /// on), doubled past 1 MiB until the piece count is at most ``maximumPieceCount``.
    public static func pieceSize(forFileSize fileSize: UInt64) -> Int {
        var size = smallestDefaultPieceSize
        while size < defaultPieceSize && pieceCount(fileSize: fileSize, pieceSize: size) > swarmPieceCount {
            size <<= 1
        }
        while pieceCount(fileSize: fileSize, pieceSize: size) > maximumPieceCount && size < maximumPieceSize {
            size <<= 1
        }
        return size
    }

    public static func pieceCount(fileSize: UInt64, pieceSize: Int) -> Int {
        Int(exactPieceCount(fileSize: fileSize, pieceSize: UInt64(pieceSize)))
    }

    /// The piece count as a `UInt64`. Quotient plus remainder, because the usual
    /// `(size + piece - 1) / piece` overflows for a size near 2^64, which a hostile
    /// manifest header can declare.
    static func exactPieceCount(fileSize: UInt64, pieceSize: UInt64) -> UInt64 {
        let (pieces, rest) = fileSize.quotientAndRemainder(dividingBy: pieceSize)
        return rest == 0 ? pieces : pieces + 1
    }

    /// The canonical byte encoding (see the type's documentation).
    public var canonicalEncoding: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(Self.headerLength + pieceCount * 32)
        out += Self.magic
        out.append(Self.formatVersion)
        appendBigEndian(fileSize, to: &out)
        appendBigEndian(UInt32(pieceSize), to: &out)
        appendBigEndian(UInt32(pieceCount), to: &out)
        out += fileHash.bytes
        for h in pieceHashes { out += h.bytes }
        return out
    }

    /// The content id: SHA-256 of ``canonicalEncoding``.
    public var contentID: ContentID {
        ContentID(SHA256Hash.of(canonicalEncoding))
    }

    public enum DecodingError: Error, Equatable, CustomStringConvertible {
        case truncated
        case badMagic
        case unsupportedVersion(UInt8)
        case invalidPieceSize(UInt32)
        case pieceCountMismatch(declared: UInt32, expected: Int)
        case trailingBytes

        public var description: String {
            switch self {
            case .truncated: return "manifest is truncated"
            case .badMagic: return "not a manifest (bad magic)"
            case .unsupportedVersion(let v): return "unsupported manifest version \(v)"
            case .invalidPieceSize(let s): return "invalid piece size \(s)"
            case .pieceCountMismatch(let d, let e): return "manifest declares \(d) pieces, its size needs \(e)"
            case .trailingBytes: return "manifest has trailing bytes"
            }
        }
    }

    /// Decodes a canonical encoding, checking every field before allocating.
    public init(canonicalEncoding bytes: some Collection<UInt8>) throws(DecodingError) {
        let b = Array(bytes)
        guard b.count >= Self.headerLength else { throw .truncated }
        guard Array(b[0..<4]) == Self.magic else { throw .badMagic }
        guard b[4] == Self.formatVersion else { throw .unsupportedVersion(b[4]) }
        let fileSize = readBigEndian(UInt64.self, b, at: 5)
        let pieceSize = readBigEndian(UInt32.self, b, at: 13)
        let count = readBigEndian(UInt32.self, b, at: 17)
        guard pieceSize > 0, pieceSize & (pieceSize - 1) == 0, Int(pieceSize) <= Self.maximumPieceSize else {
            throw .invalidPieceSize(pieceSize)
        }
        // Compared as UInt64: the count a huge declared size needs may not fit in an Int.
        let required = Self.exactPieceCount(fileSize: fileSize, pieceSize: UInt64(pieceSize))
        guard required == UInt64(count) else {
            throw .pieceCountMismatch(declared: count, expected: Int(clamping: required))
        }
        let expected = Int(count)
        let needed = Self.headerLength + expected * 32
        guard b.count >= needed else { throw .truncated }
        guard b.count == needed else { throw .trailingBytes }
        let fileHash = SHA256Hash(bytes: b[(Self.headerLength - 32)..<Self.headerLength])!
        var pieces: [SHA256Hash] = []
        pieces.reserveCapacity(expected)
        var offset = Self.headerLength
        for _ in 0..<expected {
            pieces.append(SHA256Hash(bytes: b[offset..<offset + 32])!)
            offset += 32
        }
        self.init(fileSize: fileSize, pieceSize: Int(pieceSize), fileHash: fileHash, pieceHashes: pieces)
    }
}

@inline(__always)
func appendBigEndian<T: FixedWidthInteger>(_ value: T, to out: inout [UInt8]) {
    withUnsafeBytes(of: value.bigEndian) { out.append(contentsOf: $0) }
}

@inline(__always)
func readBigEndian<T: FixedWidthInteger>(_: T.Type, _ bytes: [UInt8], at offset: Int) -> T {
    var value: T = 0
    for i in 0..<MemoryLayout<T>.size {
        value = value << 8 | T(bytes[offset + i])
    }
    return value
}
