/// A set of pieces as a packed bitfield: which pieces a resume record says are verified
/// (and, later, which pieces a peer holds).
///
/// One bit per piece, most significant bit first: piece `i` is bit `7 - i % 8` of byte
/// `i / 8`. The last byte's unused low bits are zero.
///
/// ```
///  byte 0                          byte 1
/// +---+---+---+---+---+---+---+---+---+---+---
/// | 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9 | …   piece index of each bit
/// +---+---+---+---+---+---+---+---+---+---+---
/// ```
public struct PieceBitfield: Hashable, Sendable {
    public let pieceCount: Int
    public private(set) var bytes: [UInt8]

    /// Bytes in a bitfield of `pieceCount` pieces.
    public static func length(pieceCount: Int) -> Int { (pieceCount + 7) / 8 }

    /// The bitfield of `pieces` (indices outside `0..<pieceCount` are ignored).
    public init(pieceCount: Int, pieces: some Sequence<Int> = []) {
        self.pieceCount = max(0, pieceCount)
        self.bytes = [UInt8](repeating: 0, count: Self.length(pieceCount: self.pieceCount))
        for piece in pieces where piece >= 0 && piece < pieceCount { bytes[piece >> 3] |= 0x80 >> UInt8(piece & 7) }
    }

    /// Reads a bitfield of `pieceCount` pieces; nil if it does not fit (wrong length, or a bit
    /// set past the last piece): whoever sent or stored it is not to be trusted.
    public init?(bytes: [UInt8], pieceCount: Int) {
        guard pieceCount >= 0, bytes.count == Self.length(pieceCount: pieceCount) else { return nil }
        let spare = bytes.count * 8 - pieceCount
        if spare > 0, let last = bytes.last, last & UInt8((1 << spare) - 1) != 0 { return nil }
        self.pieceCount = pieceCount
        self.bytes = bytes
    }

    /// Adds `piece`; returns false if it was there already or is out of range.
    @discardableResult
    public mutating func insert(_ piece: Int) -> Bool {
        guard piece >= 0, piece < pieceCount, !contains(piece) else { return false }
        bytes[piece >> 3] |= 0x80 >> UInt8(piece & 7)
        return true
    }

    public func contains(_ piece: Int) -> Bool {
        piece >= 0 && piece < pieceCount && bytes[piece >> 3] & (0x80 >> UInt8(piece & 7)) != 0
    }

    /// The pieces set, ascending.
    public var pieces: [Int] {
        var result: [Int] = []
        for (byteIndex, byte) in bytes.enumerated() where byte != 0 {
            for bit in 0..<8 where byte & (0x80 >> UInt8(bit)) != 0 { result.append(byteIndex * 8 + bit) }
        }
        return result
    }
}
