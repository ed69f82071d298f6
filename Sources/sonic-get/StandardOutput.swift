#if canImport(FoundationEssentials)
import FoundationEssentials
import Glibc
#else
import Foundation
#endif
import SonicCore

/// A private folder under `$TMPDIR` (mode 0700), removed with everything in it.
struct TemporaryFolder {
    let path: String

    init(prefix: String) throws {
        let base = ProcessInfo.processInfo.environment["TMPDIR"] ?? "/tmp"
        var template = Array((base + "/" + prefix + "-XXXXXX").utf8CString)
        guard let made = mkdtemp(&template) else { throw FileError(path: base, errno: errno) }
        path = String(cString: made)
    }

    func remove() {
        try? FileManager.default.removeItem(atPath: path)
    }
}

/// Copies a finished file to standard output in 1 MiB chunks.
enum StandardOutput {
    static func copy(fileAt path: String) throws {
        let file = try ReadOnlyFile(path: path)
        defer { file.close() }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { buffer.deallocate() }
        var offset: UInt64 = 0
        while true {
            let n = try file.read(into: buffer, at: offset)
            if n == 0 { return }
            try PositionalIO.writeAll(STDOUT_FILENO, UnsafeRawBufferPointer(rebasing: buffer[0..<n]), path: "standard output")
            offset += UInt64(n)
        }
    }
}
