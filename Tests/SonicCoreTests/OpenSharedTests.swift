import Foundation
import SonicCore
import Testing

/// ``ReadOnlyFile/openShared(root:relativePath:expecting:)``: a shared file is served only if
/// it is still the file the scan found (hostile testing, defect 3).
@Suite("ReadOnlyFile.openShared")
struct OpenSharedTests {
    let root: URL
    let outside: URL

    init() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("open-shared-\(UUID())")
        outside = FileManager.default.temporaryDirectory.appendingPathComponent("open-outside-\(UUID())")
        try FileManager.default.createDirectory(at: root.appendingPathComponent("sub"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: outside.appendingPathComponent("sub"), withIntermediateDirectories: true)
        try Data("inside".utf8).write(to: root.appendingPathComponent("sub/f"))
        try Data("secret".utf8).write(to: outside.appendingPathComponent("sub/f"))
    }

    func cleanUp() {
        try? FileManager.default.removeItem(at: root)
        try? FileManager.default.removeItem(at: outside)
    }

    func read(_ file: ReadOnlyFile) throws -> String {
        var bytes = [UInt8](repeating: 0, count: 16)
        let n = try bytes.withUnsafeMutableBytes { try file.read(into: $0, at: 0) }
        return String(decoding: bytes[0..<n], as: UTF8.self)
    }

    @Test func opensTheScannedFile() throws {
        defer { cleanUp() }
        let status = try FileStatus.of(path: root.appendingPathComponent("sub/f").path)
        let file = try ReadOnlyFile.openShared(root: root.path, relativePath: "sub/f", expecting: status)
        defer { file.close() }
        #expect(try read(file) == "inside")
    }

    @Test func refusesAFolderSwappedForASymlink() throws {
        defer { cleanUp() }
        let status = try FileStatus.of(path: root.appendingPathComponent("sub/f").path)
        try FileManager.default.removeItem(at: root.appendingPathComponent("sub"))
        try FileManager.default.createSymbolicLink(at: root.appendingPathComponent("sub"),
                                                   withDestinationURL: outside.appendingPathComponent("sub"))
        #expect(throws: FileError.self) {
            try ReadOnlyFile.openShared(root: root.path, relativePath: "sub/f", expecting: status)
        }
    }

    @Test func refusesAFileSwappedForASymlinkOrAnotherFile() throws {
        defer { cleanUp() }
        let path = root.appendingPathComponent("sub/f").path
        let status = try FileStatus.of(path: path)
        // Another file with the same size and modification time: a different inode.
        let copy = root.appendingPathComponent("sub/g").path
        try Data("insidf".utf8).write(to: URL(fileURLWithPath: copy))
        var st = stat()
        _ = stat(path, &st)
        var times = [st.st_mtim, st.st_mtim]
        _ = utimensat(AT_FDCWD, copy, &times, 0)
        #expect(rename(copy, path) == 0)
        #expect(throws: FileError.self) {
            try ReadOnlyFile.openShared(root: root.path, relativePath: "sub/f", expecting: status)
        }
        try FileManager.default.removeItem(atPath: path)
        try FileManager.default.createSymbolicLink(atPath: path, withDestinationPath: outside.appendingPathComponent("sub/f").path)
        #expect(throws: FileError.self) {
            try ReadOnlyFile.openShared(root: root.path, relativePath: "sub/f", expecting: status)
        }
    }
}
