import SonicWire
import Foundation
import Logging
import SonicCore
@testable import SonicSeed
import Testing

@Suite struct FolderTests {
    func makeTree() throws -> (URL, URL) {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("scan-\(UUID())")
        let outside = FileManager.default.temporaryDirectory.appendingPathComponent("outside-\(UUID())")
        let fm = FileManager.default
        try fm.createDirectory(at: root.appendingPathComponent("sub/deeper"), withIntermediateDirectories: true)
        try fm.createDirectory(at: root.appendingPathComponent(".hidden-dir"), withIntermediateDirectories: true)
        try fm.createDirectory(at: outside, withIntermediateDirectories: true)
        try Data("a".utf8).write(to: root.appendingPathComponent("a b: c.txt"))
        try Data("d".utf8).write(to: root.appendingPathComponent("sub/deeper/ü.txt"))
        try Data("h".utf8).write(to: root.appendingPathComponent(".hidden"))
        try Data("h".utf8).write(to: root.appendingPathComponent(".hidden-dir/x"))
        try Data("p".utf8).write(to: root.appendingPathComponent(".x.sonic-part"))
        try Data("s".utf8).write(to: outside.appendingPathComponent("secret"))
        try fm.createSymbolicLink(atPath: root.appendingPathComponent("out-file").path,
                                  withDestinationPath: outside.appendingPathComponent("secret").path)
        try fm.createSymbolicLink(atPath: root.appendingPathComponent("out-dir").path, withDestinationPath: outside.path)
        try fm.createSymbolicLink(atPath: root.appendingPathComponent("in-link").path, withDestinationPath: "a b: c.txt")
        try fm.createSymbolicLink(atPath: root.appendingPathComponent("loop").path, withDestinationPath: root.path)
        try fm.createSymbolicLink(atPath: root.appendingPathComponent("dangling").path, withDestinationPath: "/nonexistent")
        return (root, outside)
    }

    @Test func scanningSharesOnlyVisibleRegularFilesInsideTheFolder() throws {
        let (root, outside) = try makeTree()
        defer { [root, outside].forEach { try? FileManager.default.removeItem(at: $0) } }
        let found = try FolderScanner(root: root.path).scan()
        #expect(found.map(\.name) == ["a b: c.txt", "in-link", "sub/deeper/ü.txt"])
        #expect(found.allSatisfy { !$0.path.contains("outside-") })
    }

    @Test func namesWithControlCharactersAreSkippedAndReported() throws {
        let (root, outside) = try makeTree()
        defer { [root, outside].forEach { try? FileManager.default.removeItem(at: $0) } }
        try Data("e".utf8).write(to: root.appendingPathComponent("evil\u{1B}[2J.txt"))
        try Data("n".utf8).write(to: root.appendingPathComponent("sub/new\nline"))
        var refused: [String] = []
        let found = try FolderScanner(root: root.path).scan { refused.append($0) }
        #expect(found.map(\.name) == ["a b: c.txt", "in-link", "sub/deeper/ü.txt"])
        #expect(refused.sorted() == ["evil\u{1B}[2J.txt", "sub/new\nline"])
    }

    @Test func aMissingFolderOrAFileIsRefused() throws {
        #expect(throws: FileError.self) { try FolderScanner(root: "/nonexistent-\(UUID())") }
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("f-\(UUID())")
        try Data().write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        #expect(throws: FileError.self) { try FolderScanner(root: file.path) }
    }

    @Test func theCacheSkipsRehashingUnchangedFilesAndNoticesChanges() throws {
        let (root, outside) = try makeTree()
        let cachePath = root.deletingLastPathComponent().appendingPathComponent("cache-\(UUID()).json").path
        defer { [root, outside].forEach { try? FileManager.default.removeItem(at: $0) }; unlink(cachePath) }
        let logger = Logger(label: "test")
        func indexer(_ library: SharedLibrary) throws -> FolderIndexer {
            FolderIndexer(scanner: try FolderScanner(root: root.path), library: library, cachePath: cachePath,
                          logger: logger, probe: { _, _ in false })
        }
        let library = SharedLibrary()
        #expect(try indexer(library).rescan() == .init(files: 3, hashed: 3, failed: 0))
        // A restart over the same folder hashes nothing.
        let again = SharedLibrary()
        let second = try indexer(again)
        #expect(second.rescan() == .init(files: 3, hashed: 0, failed: 0))
        #expect(again.snapshot().files == library.snapshot().files)
        // A changed file is rehashed, a removed one dropped, a new one added.
        let generation = again.generation
        try Data("changed!".utf8).write(to: root.appendingPathComponent("sub/deeper/ü.txt"))
        try FileManager.default.removeItem(at: root.appendingPathComponent("in-link"))
        try Data("new".utf8).write(to: root.appendingPathComponent("new.txt"))
        #expect(second.rescan() == .init(files: 3, hashed: 2, failed: 0))
        #expect(again.generation > generation)
        #expect(again.snapshot().files.map(\.name) == ["a b: c.txt", "new.txt", "sub/deeper/ü.txt"])
        #expect(again.entry(named: "sub/deeper/ü.txt")?.manifest.fileSize == 8)
        // Nothing changed: same generation, nothing hashed.
        let g2 = again.generation
        #expect(second.rescan().hashed == 0)
        #expect(again.generation == g2)
    }

    @Test func registrationsAreSplitIntoFramesWithinTheLimits() {
        let names = (0..<10_000).map { "file-\($0)" }
        let batches = IndexAnnouncer.batches(names, size: { $0.utf8.count + 2 })
        #expect(batches.flatMap { $0 } == names)
        #expect(batches.allSatisfy { $0.count <= 4096 })
        let long = (0..<2000).map { String(repeating: "x", count: 4000) + "\($0)" }
        let longBatches = IndexAnnouncer.batches(long, size: { $0.utf8.count + 2 })
        #expect(longBatches.flatMap { $0 } == long)
        #expect(longBatches.count > 1)
        #expect(IndexAnnouncer.batches([String](), size: { $0.utf8.count }).isEmpty)
    }
}

extension FolderTests {
    /// A file, a missing path and a link to a file are refused as folders; a link to a folder is one.
    @Test func onlyAFolderOrALinkToOneIsAFolderToShare() throws {
        let (root, outside) = try makeTree()
        defer { [root, outside].forEach { try? FileManager.default.removeItem(at: $0) } }
        #expect(FileStatus.isDirectory(root.path))
        #expect(FileStatus.isDirectory(root.appendingPathComponent("out-dir").path))
        for notAFolder in ["a b: c.txt", "in-link", "dangling", "missing"].map({ root.appendingPathComponent($0).path }) {
            #expect(!FileStatus.isDirectory(notAFolder), "\(notAFolder)")
            #expect(throws: FileError.self) { try FolderScanner(root: notAFolder) }
        }
        #expect(throws: Never.self) { try FolderScanner(root: root.appendingPathComponent("out-dir").path) }
    }
}
