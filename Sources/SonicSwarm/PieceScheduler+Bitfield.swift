extension PieceScheduler {
    /// The verified pieces as a packed bitfield, for the resume record.
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
    public var verifiedBitfield: [UInt8] {
        var bytes = [UInt8](repeating: 0, count: Self.bitfieldLength(pieceCount: pieceCount))
        for piece in pieces.indices where pieces[piece].isVerified {
            bytes[piece >> 3] |= 0x80 >> UInt8(piece & 7)
        }
        return bytes
    }

    /// Bytes in a bitfield of `pieceCount` pieces.
    public static func bitfieldLength(pieceCount: Int) -> Int {
        (pieceCount + 7) / 8
    }

    /// The pieces set in a bitfield laid out as ``verifiedBitfield``, ascending; nil if it
    /// does not fit `pieceCount` (wrong length, or a bit set past the last piece), in which
    /// case the caller should not trust the record and rehash the partial file instead.
    public static func verifiedPieces(inBitfield bitfield: [UInt8], pieceCount: Int) -> [Int]? {
        guard pieceCount >= 0, bitfield.count == bitfieldLength(pieceCount: pieceCount) else { return nil }
        var result: [Int] = []
        for (byteIndex, byte) in bitfield.enumerated() where byte != 0 {
            for bit in 0..<8 where byte & (0x80 >> UInt8(bit)) != 0 {
                let piece = byteIndex * 8 + bit
                guard piece < pieceCount else { return nil }
                result.append(piece)
            }
        }
        return result
    }
}
