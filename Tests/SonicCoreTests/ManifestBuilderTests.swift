import Foundation
import Testing
import SonicCore

@Suite("ManifestBuilder")
struct ManifestBuilderTests {
    /// Feeds `data` to a builder in chunks of the sizes given (cycled).
    func build(_ data: [UInt8], pieceSize: Int?, chunks: [Int]) throws -> Manifest {
        var builder = ManifestBuilder(fileSize: UInt64(data.count), pieceSize: pieceSize)
        var offset = 0
        var i = 0
        while offset < data.count {
            let n = min(chunks[i % chunks.count], data.count - offset)
            data[offset..<offset + n].withUnsafeBytes { builder.update($0) }
            offset += n
            i += 1
        }
        return try builder.finish()
    }

    /// Hashes computed slice by slice, without the builder: what the builder must agree with.
    func reference(_ data: [UInt8], pieceSize: Int) -> Manifest {
        let pieces = stride(from: 0, to: data.count, by: pieceSize).map {
            SHA256Hash.of(Array(data[$0..<min($0 + pieceSize, data.count)]))
        }
        return Manifest(fileSize: UInt64(data.count), pieceSize: pieceSize, fileHash: SHA256Hash.of(data),
                        pieceHashes: pieces)
    }

    @Test(arguments: [[1], [3], [63], [64], [65], [1000], [1, 200, 7, 64, 129, 2], [0, 5, 0, 17]])
    func chunkingDoesNotMatter(chunks: [Int]) throws {
        let data = patternBytes(count: 1000)
        let expected = reference(data, pieceSize: 64)
        // Chunks of 0 bytes (empty updates) are mixed with others, which make progress.
        #expect(try build(data, pieceSize: 64, chunks: chunks) == expected)
    }

    @Test func emptyUpdatesAreHarmless() throws {
        var builder = ManifestBuilder(fileSize: 3, pieceSize: 4)
        builder.update([])
        builder.update([1, 2])
        builder.update([])
        builder.update([3])
        #expect(try builder.finish() == reference([1, 2, 3], pieceSize: 4))
    }

    @Test func defaultPieceSizeAcrossPieceBoundaries() throws {
        let data = patternBytes(count: 2 * (1 << 20) + 12_345)
        let whole = ManifestBuilder.manifest(of: data)
        #expect(whole.pieceSize == 256 << 10)
        #expect(whole.pieceCount == 9)
        #expect(whole == reference(data, pieceSize: 256 << 10))
        #expect(try build(data, pieceSize: nil, chunks: [100_003, 65_536, 1 << 20]) == whole)
    }

    @Test func emptyInput() throws {
        var builder = ManifestBuilder(fileSize: 0)
        let m = try builder.finish()
        #expect(m.fileSize == 0)
        #expect(m.pieceCount == 0)
        #expect(m.fileHash.hex == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    }

    @Test func tooFewBytesIsASizeMismatch() {
        var builder = ManifestBuilder(fileSize: 10, pieceSize: 4)
        builder.update([1, 2, 3])
        #expect(throws: ManifestBuilder.Failure.sizeMismatch(expected: 10, actual: 3)) { try builder.finish() }
    }

    @Test func tooManyBytesIsASizeMismatch() {
        var builder = ManifestBuilder(fileSize: 2, pieceSize: 4)
        builder.update([1, 2, 3, 4, 5])
        #expect(throws: ManifestBuilder.Failure.sizeMismatch(expected: 2, actual: 5)) { try builder.finish() }
    }

    @Test func pieceSizeDefaultsToTheRuleForTheFileSize() {
        #expect(ManifestBuilder(fileSize: 10).pieceSize == 256 << 10)
        #expect(ManifestBuilder(fileSize: 40 << 30).pieceSize == Manifest.pieceSize(forFileSize: 40 << 30))
        #expect(ManifestBuilder(fileSize: 10, pieceSize: 4).pieceSize == 4)
    }
}

@Suite("ManifestBuilder on files")
struct ManifestOfFileTests {
    /// A fresh temporary file holding `bytes`, removed after `body`.
    func withTemporaryFile<T>(_ bytes: [UInt8], _ body: (String) throws -> T) throws -> T {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("sonic-core-test-\(UInt64.random(in: 0...UInt64.max)).bin")
        try Data(bytes).write(to: url)
        defer { try? FileManager.default.removeItem(at: url) }
        return try body(url.path)
    }

    // Sizes around the reader's 1 MiB chunk and the 1 MiB default piece.
    @Test(arguments: [0, 1, (1 << 20) - 1, 1 << 20, (1 << 20) + 1, 2 * (1 << 20) + 777])
    func fileEqualsInMemory(size: Int) throws {
        let data = patternBytes(count: size, seed: UInt64(size) + 1)
        let fromFile = try withTemporaryFile(data) { try ManifestBuilder.manifest(ofFileAt: $0) }
        #expect(fromFile == ManifestBuilder.manifest(of: data))
        #expect(fromFile.contentID == ManifestBuilder.manifest(of: data).contentID)
    }

    @Test func fileWithExplicitPieceSize() throws {
        let data = patternBytes(count: 70_000)
        let fromFile = try withTemporaryFile(data) { try ManifestBuilder.manifest(ofFileAt: $0, pieceSize: 16_384) }
        #expect(fromFile.pieceCount == 5)
        #expect(fromFile == ManifestBuilder.manifest(of: data, pieceSize: 16_384))
    }

    @Test func missingFileThrowsWithPath() {
        let path = "/nonexistent-sonic-dir/none.bin"
        let error = #expect(throws: FileError.self) { try ManifestBuilder.manifest(ofFileAt: path) }
        #expect(error?.path == path)
        #expect(error?.description.hasPrefix(path) == true)
    }

    @Test func fileStatusReportsSize() throws {
        let status = try withTemporaryFile(patternBytes(count: 1234)) { try FileStatus.of(path: $0) }
        #expect(status.size == 1234)
    }
}
