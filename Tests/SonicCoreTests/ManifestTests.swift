import Testing
import SonicCore

/// The canonical encoding is what the content id hashes: its layout is pinned byte for byte
/// here, so that a change to it (which changes every content id in the world) cannot go
/// unnoticed. Expected values were computed independently (Python's hashlib + struct).
@Suite("Manifest canonical encoding")
struct ManifestEncodingTests {
    static let abcHash = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    static let emptyHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

    @Test func layoutOfThreeByteFile() {
        let manifest = ManifestBuilder.manifest(of: Array("abc".utf8))
        let expected = hexBytes("""
            534e4d46
            01
            0000000000000003
            00040000
            00000001
            \(Self.abcHash)
            \(Self.abcHash)
            """)
        #expect(manifest.canonicalEncoding == expected)
        #expect(manifest.canonicalEncoding.count == Manifest.headerLength + 32)
        #expect(manifest.contentID.hex == "17c02bb17217a23c3a98dbe414dd439ce493ed46d8f676a1b486d9cf2aaa89be")
    }

    @Test func layoutOfEmptyFile() {
        let manifest = ManifestBuilder.manifest(of: [])
        let expected = hexBytes("""
            534e4d46 01 0000000000000000 00040000 00000000
            \(Self.emptyHash)
            """)
        #expect(manifest.pieceCount == 0)
        #expect(manifest.canonicalEncoding == expected)
        #expect(manifest.canonicalEncoding.count == Manifest.headerLength)
        #expect(manifest.contentID.hex == "dffc91cf6a898a9fc82df69130b9c4e4a4ffd0a5cf2c52715a014b6f43fc89c6")
    }

    @Test func layoutWithSeveralPiecesAndShortLastPiece() {
        let data: [UInt8] = Array(0..<10)
        let manifest = ManifestBuilder.manifest(of: data, pieceSize: 4)
        let expected = hexBytes("""
            534e4d46 01 000000000000000a 00000004 00000003
            1f825aa2f0020ef7cf91dfa30da4668d791c5d4824fc8e41354b89ec05795ab3
            054edec1d0211f624fed0cbca9d4f9400b0e491c43742af2c5b0abebf0c990d8
            c6d44cf418f610e3fe9e1d9294ff43def81c6cdcad6cbb1820cff48d3aa4355d
            73907589101a7e8ab83178e7db2997aab7272cd02d364e8e3ecc2beccda4b631
            """)
        #expect(manifest.canonicalEncoding == expected)
        #expect(manifest.contentID.hex == "b9b424e278ecb4e9e972b7605b539341657aba4a77e699d940342d7a37e2b8f4")
        // The piece hashes are those of the slices [0,4), [4,8), [8,10).
        #expect(manifest.pieceHashes == [
            SHA256Hash.of(Array(data[0..<4])), SHA256Hash.of(Array(data[4..<8])), SHA256Hash.of(Array(data[8..<10])),
        ])
    }

    @Test func integersAreBigEndian() {
        // A size with a distinct byte in each low position shows the byte order of the field.
        let size: UInt64 = 0x01_0203_0405
        let pieceSize = 1 << 26
        let count = Manifest.pieceCount(fileSize: size, pieceSize: pieceSize)
        #expect(count == 0x41)
        let manifest = Manifest(
            fileSize: size, pieceSize: pieceSize, fileHash: .repeating(0xAA),
            pieceHashes: (0..<count).map { .repeating(UInt8($0)) }
        )
        let bytes = manifest.canonicalEncoding
        #expect(Array(bytes[0..<5]) == hexBytes("534e4d4601"))
        #expect(Array(bytes[5..<13]) == hexBytes("0000000102030405"))
        #expect(Array(bytes[13..<17]) == hexBytes("04000000"))
        #expect(Array(bytes[17..<21]) == hexBytes("00000041"))
        #expect(Array(bytes[21..<53]) == [UInt8](repeating: 0xAA, count: 32))
        // Piece hashes follow in piece order.
        #expect(Array(bytes[53..<85]) == [UInt8](repeating: 0, count: 32))
        #expect(Array(bytes[(53 + 64 * 32)...]) == [UInt8](repeating: 64, count: 32))
        #expect(bytes.count == Manifest.headerLength + 32 * count)
    }

    @Test(arguments: [0, 1, 3, 4095, 4096, 4097, 3 * 4096 + 5])
    func roundTrip(size: Int) throws {
        let manifest = ManifestBuilder.manifest(of: patternBytes(count: size), pieceSize: 1024)
        let decoded = try Manifest(canonicalEncoding: manifest.canonicalEncoding)
        #expect(decoded == manifest)
        #expect(decoded.contentID == manifest.contentID)
        #expect(decoded.canonicalEncoding == manifest.canonicalEncoding)
    }

    @Test func decodesFromAnyCollection() throws {
        let manifest = ManifestBuilder.manifest(of: patternBytes(count: 100), pieceSize: 32)
        let padded = [0xFF] + manifest.canonicalEncoding + [0xFF]
        let slice = padded[1..<padded.count - 1]
        #expect(try Manifest(canonicalEncoding: slice) == manifest)
    }
}

@Suite("Content id")
struct ContentIDTests {
    @Test func isSHA256OfCanonicalEncoding() {
        let manifest = ManifestBuilder.manifest(of: patternBytes(count: 5000), pieceSize: 1024)
        #expect(manifest.contentID.hash == SHA256Hash.of(manifest.canonicalEncoding))
    }

    @Test func sameBytesSameID() {
        let a = ManifestBuilder.manifest(of: patternBytes(count: 3000), pieceSize: 1024)
        let b = ManifestBuilder.manifest(of: patternBytes(count: 3000), pieceSize: 1024)
        #expect(a.contentID == b.contentID)
    }

    @Test(arguments: [0, 1, 1023, 1024, 2999])
    func changesWhenOneByteChanges(position: Int) {
        var data = patternBytes(count: 3000)
        let original = ManifestBuilder.manifest(of: data, pieceSize: 1024)
        data[position] ^= 0x01
        let changed = ManifestBuilder.manifest(of: data, pieceSize: 1024)
        #expect(changed.contentID != original.contentID)
        #expect(changed.fileHash != original.fileHash)
        // Only the piece holding the changed byte has a different hash.
        let piece = position / 1024
        for i in 0..<original.pieceCount {
            #expect((changed.pieceHashes[i] != original.pieceHashes[i]) == (i == piece))
        }
    }

    @Test func differsWithPieceSize() {
        let data = patternBytes(count: 3000)
        let a = ManifestBuilder.manifest(of: data, pieceSize: 1024)
        let b = ManifestBuilder.manifest(of: data, pieceSize: 2048)
        #expect(a.fileHash == b.fileHash)
        #expect(a.contentID != b.contentID)
    }

    @Test func differsWhenAByteIsAppended() {
        let data = patternBytes(count: 1024)
        let a = ManifestBuilder.manifest(of: data, pieceSize: 1024)
        let b = ManifestBuilder.manifest(of: data + [0], pieceSize: 1024)
        #expect(a.contentID != b.contentID)
    }

    @Test func shortHexIsTwelveDigitPrefix() {
        let id = ManifestBuilder.manifest(of: Array("abc".utf8)).contentID
        #expect(id.shortHex == "17c02bb17217")
        #expect(id.description == id.hex)
        #expect(id.hash.hasHexPrefix("17C02BB"))
    }
}

@Suite("Piece geometry")
struct PieceGeometryTests {
    func manifest(size: UInt64, pieceSize: Int) -> Manifest {
        let count = Manifest.pieceCount(fileSize: size, pieceSize: pieceSize)
        return Manifest(
            fileSize: size, pieceSize: pieceSize, fileHash: .repeating(0),
            pieceHashes: Array(repeating: .repeating(1), count: count)
        )
    }

    @Test func rangesCoverFileWithShortLastPiece() {
        let m = manifest(size: 10, pieceSize: 4)
        #expect(m.pieceCount == 3)
        #expect(m.range(ofPiece: 0) == 0..<4)
        #expect(m.range(ofPiece: 1) == 4..<8)
        #expect(m.range(ofPiece: 2) == 8..<10)
        #expect((0..<3).map(m.length(ofPiece:)) == [4, 4, 2])
    }

    @Test func exactMultipleHasNoShortPiece() {
        let m = manifest(size: 12, pieceSize: 4)
        #expect(m.pieceCount == 3)
        #expect(m.range(ofPiece: 2) == 8..<12)
        #expect(m.length(ofPiece: 2) == 4)
    }

    @Test func oneBytePastAMultipleAddsAOneBytePiece() {
        let m = manifest(size: 13, pieceSize: 4)
        #expect(m.pieceCount == 4)
        #expect(m.range(ofPiece: 3) == 12..<13)
        #expect(m.length(ofPiece: 3) == 1)
    }

    @Test func emptyFileHasNoPieces() {
        #expect(Manifest.pieceCount(fileSize: 0, pieceSize: 1 << 20) == 0)
        #expect(manifest(size: 0, pieceSize: 1 << 20).pieceCount == 0)
        #expect(ManifestBuilder.manifest(of: []).pieceHashes.isEmpty)
    }

    @Test func rangesAreContiguousAndSumToFileSize() {
        let size: UInt64 = 5 * (1 << 20) + 12_345
        let m = manifest(size: size, pieceSize: 1 << 20)
        #expect(m.pieceCount == 6)
        var next: UInt64 = 0
        for i in 0..<m.pieceCount {
            let r = m.range(ofPiece: i)
            #expect(r.lowerBound == next)
            #expect(!r.isEmpty)
            next = r.upperBound
        }
        #expect(next == size)
        #expect(m.length(ofPiece: 5) == 12_345)
    }

    static let mib: UInt64 = 1 << 20
    static let gib: UInt64 = 1 << 30

    @Test(arguments: [
        (UInt64(0), 256 << 10),
        (1, 256 << 10),
        (mib, 256 << 10),
        (64 * mib, 256 << 10),        // 256 pieces of 256 KiB
        (64 * mib + 1, 512 << 10),
        (128 * mib, 512 << 10),
        (128 * mib + 1, 1 << 20),
        (256 * mib, 1 << 20),
        (16 * gib, 1 << 20),          // exactly 16384 pieces of 1 MiB
        (16 * gib + 1, 2 << 20),      // one byte more: doubling
        (32 * gib, 2 << 20),
        (32 * gib + 1, 4 << 20),
        (100 * gib, 8 << 20),
        (1024 * gib, 64 << 20),       // 1 TiB: 16384 pieces of 64 MiB
    ] as [(UInt64, Int)])
    func pieceSizeForFileSize(size: UInt64, expected: Int) {
        let pieceSize = Manifest.pieceSize(forFileSize: size)
        #expect(pieceSize == expected)
        #expect(pieceSize & (pieceSize - 1) == 0)
        #expect(Manifest.pieceCount(fileSize: size, pieceSize: pieceSize) <= Manifest.maximumPieceCount)
    }

    @Test func pieceSizeIsSmallestPowerOfTwoKeepingCountBounded() {
        var size: UInt64 = 1
        while size <= 1024 * Self.gib {
            let pieceSize = Manifest.pieceSize(forFileSize: size)
            #expect(Manifest.pieceCount(fileSize: size, pieceSize: pieceSize) <= Manifest.maximumPieceCount)
            #expect(pieceSize >= Manifest.smallestDefaultPieceSize)
            if pieceSize > Manifest.defaultPieceSize {
                #expect(Manifest.pieceCount(fileSize: size, pieceSize: pieceSize / 2) > Manifest.maximumPieceCount)
            } else if pieceSize > Manifest.smallestDefaultPieceSize {
                #expect(Manifest.pieceCount(fileSize: size, pieceSize: pieceSize / 2) > Manifest.swarmPieceCount)
            }
            size = size * 3 + 7
        }
    }

    @Test func pieceSizeIsCappedAtMaximum() {
        // Past 1 TiB the piece size stops growing (a client buffers whole pieces), so the
        // count may exceed 16384 there: the cap on piece size wins.
        let size = 4096 * Self.gib
        #expect(Manifest.pieceSize(forFileSize: size) == Manifest.maximumPieceSize)
        #expect(Manifest.pieceSize(forFileSize: .max) == Manifest.maximumPieceSize)
    }

    @Test func pieceCountDoesNotOverflowNearTheTopOfUInt64() {
        #expect(Manifest.pieceCount(fileSize: .max, pieceSize: 1 << 26) == Int(UInt64.max >> 26) + 1)
        #expect(Manifest.pieceCount(fileSize: .max - 4, pieceSize: 2) == Int.max - 1)  // odd size: short last piece
        #expect(Manifest.pieceCount(fileSize: .max - 5, pieceSize: 2) == Int.max - 2)  // even size: exact
    }
}

@Suite("Manifest decoding rejects")
struct ManifestDecodingTests {
    static let valid = ManifestBuilder.manifest(of: patternBytes(count: 10), pieceSize: 4).canonicalEncoding

    func decode(_ bytes: [UInt8]) throws(Manifest.DecodingError) -> Manifest {
        try Manifest(canonicalEncoding: bytes)
    }

    /// The header with chosen fields, and `hashes` piece hashes after it.
    func header(magic: [UInt8] = Manifest.magic, version: UInt8 = 1, size: UInt64, pieceSize: UInt32,
                count: UInt32, hashes: Int) -> [UInt8] {
        var b = magic + [version]
        b += bigEndianBytes(size)
        b += bigEndianBytes(pieceSize)
        b += bigEndianBytes(count)
        b += [UInt8](repeating: 0xAA, count: 32)
        b += [UInt8](repeating: 0xBB, count: 32 * hashes)
        return b
    }

    @Test func validHeaderBuilderMatchesEncoder() throws {
        #expect(header(size: 10, pieceSize: 4, count: 3, hashes: 3).count == Self.valid.count)
        _ = try decode(header(size: 10, pieceSize: 4, count: 3, hashes: 3))
    }

    @Test func truncatedAtEveryLength() {
        for length in 0..<Self.valid.count {
            #expect(throws: Manifest.DecodingError.truncated) {
                try decode(Array(Self.valid.prefix(length)))
            }
        }
    }

    @Test func badMagic() {
        var bytes = Self.valid
        bytes[0] = UInt8(ascii: "X")
        #expect(throws: Manifest.DecodingError.badMagic) { try decode(bytes) }
        #expect(throws: Manifest.DecodingError.badMagic) {
            try decode(header(magic: Array("snmf".utf8), size: 0, pieceSize: 1 << 20, count: 0, hashes: 0))
        }
    }

    @Test(arguments: [0, 2, 0xFF] as [UInt8])
    func wrongVersion(version: UInt8) {
        var bytes = Self.valid
        bytes[4] = version
        #expect(throws: Manifest.DecodingError.unsupportedVersion(version)) { try decode(bytes) }
    }

    @Test(arguments: [0, 3, 1000, (1 << 20) + 1, 0xFFFF_FFFF, 128 << 20, 1 << 31] as [UInt32])
    func invalidPieceSize(pieceSize: UInt32) {
        #expect(throws: Manifest.DecodingError.invalidPieceSize(pieceSize)) {
            try decode(header(size: 0, pieceSize: pieceSize, count: 0, hashes: 0))
        }
    }

    @Test func largestPieceSizeIsAccepted() throws {
        let m = try decode(header(size: 1, pieceSize: UInt32(Manifest.maximumPieceSize), count: 1, hashes: 1))
        #expect(m.pieceSize == 64 << 20)
    }

    @Test func countMismatch() {
        #expect(throws: Manifest.DecodingError.pieceCountMismatch(declared: 2, expected: 3)) {
            try decode(header(size: 10, pieceSize: 4, count: 2, hashes: 2))
        }
        #expect(throws: Manifest.DecodingError.pieceCountMismatch(declared: 4, expected: 3)) {
            try decode(header(size: 10, pieceSize: 4, count: 4, hashes: 4))
        }
        #expect(throws: Manifest.DecodingError.pieceCountMismatch(declared: 1, expected: 0)) {
            try decode(header(size: 0, pieceSize: 4, count: 1, hashes: 1))
        }
    }

    @Test func trailingBytes() {
        #expect(throws: Manifest.DecodingError.trailingBytes) { try decode(Self.valid + [0]) }
        #expect(throws: Manifest.DecodingError.trailingBytes) { try decode(Self.valid + [UInt8](repeating: 0, count: 32)) }
    }

    @Test func missingPieceHashIsTruncatedNotMismatch() {
        #expect(throws: Manifest.DecodingError.truncated) {
            try decode(header(size: 10, pieceSize: 4, count: 3, hashes: 2))
        }
    }

    /// Regression: a header declaring a file size near 2^64 made the piece count arithmetic
    /// overflow and trap, so one MANIFEST frame from a hostile peer crashed the client.
    @Test(arguments: [UInt64.max, UInt64.max - 1, UInt64(Int64.max) + 1, 1 << 63] as [UInt64])
    func hugeFileSizeIsRejectedNotATrap(size: UInt64) {
        #expect(throws: Manifest.DecodingError.self) {
            try decode(header(size: size, pieceSize: 1, count: 1, hashes: 1))
        }
        #expect(throws: Manifest.DecodingError.self) {
            try decode(header(size: size, pieceSize: 1 << 20, count: 0xFFFF_FFFF, hashes: 0))
        }
    }

    @Test func errorsDescribeThemselves() {
        #expect(Manifest.DecodingError.truncated.description.contains("truncated"))
        #expect(Manifest.DecodingError.unsupportedVersion(7).description.contains("7"))
        #expect(Manifest.DecodingError.pieceCountMismatch(declared: 2, expected: 3).description.contains("2"))
    }
}
