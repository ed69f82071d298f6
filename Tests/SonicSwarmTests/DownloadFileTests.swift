import Foundation
import SonicCore
@testable import SonicSwarm
import Testing

/// The files a download writes: the partial file, the resume record, the whole-file hash.
@Suite("Partial file, resume record, whole-file hash")
struct DownloadFileTests {
    let folder: URL

    init() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("download-files-\(UUID())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    func cleanUp() { try? FileManager.default.removeItem(at: folder) }

    static func bytes(_ count: Int, seed: UInt8) -> [UInt8] {
        (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ Int(seed) &+ $0 >> 9) }
    }

    @Test func theWholeFileHashIsTheSameInAnyArrivalOrder() throws {
        defer { cleanUp() }
        let bytes = Self.bytes(5 * 4096 + 100, seed: 1)
        let manifest = ManifestBuilder.manifest(of: bytes, pieceSize: 4096)
        let file = try PartialFile(targetPath: folder.appendingPathComponent("t").path, size: manifest.fileSize)
        let hasher = WholeFileHasher(manifest: manifest)
        for piece in [3, 1, 5, 0, 4, 2] {
            let range = manifest.range(ofPiece: piece)
            let slice = Array(bytes[Int(range.lowerBound)..<Int(range.upperBound)])
            try slice.withUnsafeBytes { raw in
                try file.write(raw, at: range.lowerBound)
            }
            hasher.pieceVerified(piece, file: file)
            let digest = try hasher.finish(file: file)
            #expect(piece == 2 ? digest != nil : digest == nil, "after piece \(piece)")
        }
        #expect(try hasher.finish(file: file) == manifest.fileHash)
    }

    @Test func aPlantedSymlinkAtThePartialFileIsRefused() throws {
        defer { cleanUp() }
        let victim = folder.appendingPathComponent("victim")
        try Data("precious".utf8).write(to: victim)
        let target = folder.appendingPathComponent("t").path
        try FileManager.default.createSymbolicLink(atPath: PartialFile.partialPath(for: target), withDestinationPath: victim.path)
        #expect(throws: FileError.self) { try PartialFile(targetPath: target, size: 1 << 20) }
        #expect(try String(contentsOf: victim, encoding: .utf8) == "precious")
    }

    @Test func whatIsServedFromAPartialFileIsThatFileEvenIfALinkReplacesItsPath() throws {
        defer { cleanUp() }
        let secret = folder.appendingPathComponent("secret")
        try Data(repeating: 0x53, count: 64).write(to: secret)
        let target = folder.appendingPathComponent("t").path
        let file = try PartialFile(targetPath: target, size: 64)
        defer { file.discard() }
        let mine = [UInt8](repeating: 0x4D, count: 64)
        try mine.withUnsafeBytes { try file.write($0, at: 0) }
        // Someone swaps the partial file's path for a link to another file.
        try FileManager.default.moveItem(atPath: file.path, toPath: file.path + ".moved")
        try FileManager.default.createSymbolicLink(atPath: file.path, withDestinationPath: secret.path)
        let reader = try file.reader()
        defer { reader.close() }
        var read = [UInt8](repeating: 0, count: 64)
        let count = try read.withUnsafeMutableBytes { try reader.read(into: $0, at: 0) }
        #expect(count == 64 && read == mine)
    }

    @Test func aSizeBeyondTheFreeSpaceIsRefusedAndLeavesNoFile() throws {
        defer { cleanUp() }
        let target = folder.appendingPathComponent("huge").path
        let error = #expect(throws: FileError.self) { try PartialFile(targetPath: target, size: 1 << 62) }
        #expect(error?.message.contains("free space") == true, "\(String(describing: error))")
        #expect(!FileManager.default.fileExists(atPath: PartialFile.partialPath(for: target)))
    }

    @Test func theResumeRecordIsNeverReadOrWrittenThroughALink() throws {
        defer { cleanUp() }
        let victim = folder.appendingPathComponent("victim")
        try Data("precious".utf8).write(to: victim)
        let path = ResumeRecord.path(for: folder.appendingPathComponent("t").path)
        let record = ResumeRecord(contentID: ContentID(SHA256Hash.of([1])), verified: PieceBitfield(pieceCount: 3, pieces: [0, 2]))
        try FileManager.default.createSymbolicLink(atPath: path + ".tmp", withDestinationPath: victim.path)
        try record.save(to: path)
        #expect(try String(contentsOf: victim, encoding: .utf8) == "precious")
        #expect(ResumeRecord.load(from: path) == record)

        let elsewhere = folder.appendingPathComponent("elsewhere")
        try FileManager.default.moveItem(atPath: path, toPath: elsewhere.path)
        try FileManager.default.createSymbolicLink(atPath: path, withDestinationPath: elsewhere.path)
        #expect(ResumeRecord.load(from: path) == nil)
    }

    /// Defect 1: a record claiming every piece of a partial file of garbage.
    @Test func resumedPiecesAreRehashedWhateverTheRecordClaims() throws {
        defer { cleanUp() }
        let bytes = Self.bytes(4 * 4096, seed: 2)
        let manifest = ManifestBuilder.manifest(of: bytes, pieceSize: 4096)
        let target = folder.appendingPathComponent("t").path
        var partial = bytes
        for i in 4096..<8192 { partial[i] ^= 0x5A }  // piece 1 is garbage
        try Data(partial).write(to: URL(fileURLWithPath: PartialFile.partialPath(for: target)))
        let recordPath = ResumeRecord.path(for: target)
        try ResumeRecord(contentID: manifest.contentID, verified: PieceBitfield(pieceCount: 4, pieces: 0..<4)).save(to: recordPath)
        let file = try PartialFile(targetPath: target, size: manifest.fileSize)
        let hasher = WholeFileHasher(manifest: manifest)
        let reused = SwarmDownload.resumablePieces(contentID: manifest.contentID, manifest: manifest, file: file,
                                                       recordPath: recordPath, wholeFile: hasher)
        #expect(reused == [0, 2, 3])
    }
}
