import Foundation
import SonicCore
import Testing

@Suite struct ManifestTests {
    @Test func sha256OfAbcIsTheKnownVector() {
        #expect(SHA256Hash.of(Array("abc".utf8)).hex == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        let h = SHA256Hash.of(Array("abc".utf8))
        #expect(SHA256Hash(hex: h.hex) == h)
        #expect(SHA256Hash(hex: h.hex.uppercased()) == h)
        #expect(SHA256Hash(hex: "xyz") == nil)
        #expect(SHA256Hash(hex: String(h.hex.dropLast())) == nil)
    }

    @Test func canonicalEncodingHasTheDocumentedLayout() {
        let bytes = [UInt8](repeating: 1, count: 2048 + 10)
        let m = ManifestBuilder.manifest(of: bytes, pieceSize: 1024)
        let e = m.canonicalEncoding
        #expect(Array(e[0..<4]) == Array("SNMF".utf8))
        #expect(e[4] == 1)
        #expect(Array(e[5..<13]) == [0, 0, 0, 0, 0, 0, 0x08, 0x0a])   // size 2058
        #expect(Array(e[13..<17]) == [0, 0, 0x04, 0])                 // piece size 1024
        #expect(Array(e[17..<21]) == [0, 0, 0, 3])                    // 3 pieces
        #expect(Array(e[21..<53]) == SHA256Hash.of(bytes).bytes)
        #expect(Array(e[53..<85]) == SHA256Hash.of(Array(bytes[0..<1024])).bytes)
        #expect(Array(e[117..<149]) == SHA256Hash.of(Array(bytes[2048...])).bytes)
        #expect(e.count == Manifest.headerLength + 3 * 32)
        #expect(m.contentID.hash == SHA256Hash.of(e))
    }

    @Test func encodingRoundTrips() throws {
        for size in [0, 1, 1023, 1024, 1025, 5000] {
            let m = ManifestBuilder.manifest(of: (0..<size).map { UInt8(truncatingIfNeeded: $0 * 7) }, pieceSize: 1024)
            #expect(try Manifest(canonicalEncoding: m.canonicalEncoding) == m)
        }
    }

    @Test func oneChangedByteChangesTheContentID() {
        var bytes = [UInt8](repeating: 3, count: 4000)
        let a = ManifestBuilder.manifest(of: bytes, pieceSize: 1024)
        bytes[3999] = 4
        let b = ManifestBuilder.manifest(of: bytes, pieceSize: 1024)
        #expect(a.contentID != b.contentID)
        #expect(Array(a.pieceHashes[0..<3]) == Array(b.pieceHashes[0..<3]))
        #expect(a.pieceHashes[3] != b.pieceHashes[3])
    }

    @Test func pieceRangesIncludeAShortLastPieceAndEmptyFilesHaveNone() {
        let m = ManifestBuilder.manifest(of: [UInt8](repeating: 0, count: 2500), pieceSize: 1024)
        #expect(m.pieceCount == 3)
        #expect(m.range(ofPiece: 0) == 0..<1024)
        #expect(m.range(ofPiece: 2) == 2048..<2500)
        #expect(m.length(ofPiece: 2) == 452)
        let empty = ManifestBuilder.manifest(of: [])
        #expect(empty.pieceCount == 0)
        #expect(empty.fileHash == SHA256Hash.of([]))
    }

    @Test func pieceSizeGrowsSoAManifestStaysSmall() {
        #expect(Manifest.pieceSize(forFileSize: 0) == 1 << 20)
        #expect(Manifest.pieceSize(forFileSize: 16 << 30) == 1 << 20)
        #expect(Manifest.pieceSize(forFileSize: (16 << 30) + 1) == 2 << 20)
        for size: UInt64 in [1 << 30, 100 << 30, 1 << 40] {
            let p = Manifest.pieceSize(forFileSize: size)
            #expect(p & (p - 1) == 0)
            #expect(Manifest.pieceCount(fileSize: size, pieceSize: p) <= Manifest.maximumPieceCount)
        }
    }

    @Test func decodingRefusesEveryKindOfBrokenManifest() {
        let good = ManifestBuilder.manifest(of: [UInt8](repeating: 9, count: 3000), pieceSize: 1024).canonicalEncoding
        func broken(_ edit: (inout [UInt8]) -> Void) -> [UInt8] {
            var b = good
            edit(&b)
            return b
        }
        #expect(throws: Manifest.DecodingError.truncated) { try Manifest(canonicalEncoding: good.prefix(40)) }
        #expect(throws: Manifest.DecodingError.truncated) { try Manifest(canonicalEncoding: good.dropLast()) }
        #expect(throws: Manifest.DecodingError.trailingBytes) { try Manifest(canonicalEncoding: good + [0]) }
        #expect(throws: Manifest.DecodingError.badMagic) { try Manifest(canonicalEncoding: broken { $0[0] = 0x41 }) }
        #expect(throws: Manifest.DecodingError.unsupportedVersion(2)) { try Manifest(canonicalEncoding: broken { $0[4] = 2 }) }
        #expect(throws: Manifest.DecodingError.invalidPieceSize(1000)) {
            try Manifest(canonicalEncoding: broken { $0[15] = 0x03; $0[16] = 0xe8 })
        }
        #expect(throws: Manifest.DecodingError.pieceCountMismatch(declared: 4, expected: 3)) {
            try Manifest(canonicalEncoding: broken { $0[20] = 4 })
        }
    }

    @Test func theBuilderIgnoresHowTheInputIsChunked() throws {
        let bytes = (0..<10_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let whole = ManifestBuilder.manifest(of: bytes, pieceSize: 1024)
        for chunk in [1, 7, 1000, 1024, 4096] {
            var b = ManifestBuilder(fileSize: UInt64(bytes.count), pieceSize: 1024)
            var i = 0
            while i < bytes.count {
                b.update(Array(bytes[i..<min(i + chunk, bytes.count)]))
                i += chunk
            }
            #expect((try? b.finish()) == whole, "chunk \(chunk)")
        }
        var short = ManifestBuilder(fileSize: 10, pieceSize: 1024)
        short.update([1, 2, 3])
        #expect(throws: ManifestBuilder.Failure.sizeMismatch(expected: 10, actual: 3)) { try short.finish() }
    }

    @Test func hashingAFileEqualsHashingItsBytes() throws {
        let bytes = (0..<(3 << 20) + 17).map { UInt8(truncatingIfNeeded: $0 &* 13) }
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("manifest-\(UUID()).bin")
        try Data(bytes).write(to: url)
        defer { try? FileManager.default.removeItem(at: url) }
        #expect(try ManifestBuilder.manifest(ofFileAt: url.path) == ManifestBuilder.manifest(of: bytes))
        #expect(throws: FileError.self) { try ManifestBuilder.manifest(ofFileAt: url.path + ".missing") }
    }
}
