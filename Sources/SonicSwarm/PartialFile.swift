import CSystemShims
import SonicCore

#if canImport(Glibc)
import Glibc
#endif

/// The file a download writes into: `.<name>.sonic-part` beside the target, preallocated to the
/// full size, written with positional writes (`pwrite`) from any peer's task, and renamed to the
/// target only when every piece is verified.
public final class PartialFile: Sendable {
    public let path: String
    public let targetPath: String
    public let size: UInt64
    /// True if a partial file of this size was already there (an earlier, interrupted run).
    public let existed: Bool
    private let descriptor: Int32

    /// Opens (creating if needed) the partial file for `targetPath` and sizes it to `size`.
    public init(targetPath: String, size: UInt64) throws {
        self.targetPath = targetPath
        self.path = Self.partialPath(for: targetPath)
        self.size = size
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw FileError(path: path, errno: errno) }
        self.descriptor = fd
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            let e = errno
            Glibc.close(fd)
            throw FileError(path: path, errno: e)
        }
        self.existed = UInt64(st.st_size) == size && size > 0
        if UInt64(st.st_size) != size {
            guard ftruncate(fd, off_t(size)) == 0 else {
                let e = errno
                Glibc.close(fd)
                throw FileError(path: path, errno: e)
            }
        }
        // Reserve the blocks now so a full disk fails here, not halfway through. Not every
        // file system supports it; sparse writes still work where it is missing.
        if size > 0 { _ = posix_fallocate(fd, 0, off_t(size)) }
    }

    deinit {
        Glibc.close(descriptor)
    }

    /// `.<base name>.sonic-part` in the target's folder: hidden, so a seeder sharing that folder
    /// never offers a half-written file.
    public static func partialPath(for target: String) -> String {
        sibling(of: target, suffix: ".sonic-part")
    }

    static func sibling(of target: String, suffix: String) -> String {
        let (directory, base) = split(target)
        return directory + "." + base + suffix
    }

    /// (folder with trailing slash or empty, base name)
    static func split(_ path: String) -> (String, String) {
        guard let slash = path.lastIndex(of: "/") else { return ("", path) }
        return (String(path[...slash]), String(path[path.index(after: slash)...]))
    }

    /// Writes all of `bytes` at `offset`.
    /// Writes a verified piece and starts its writeback at once (without waiting for it),
    /// so the final `fdatasync` before the rename finds little left to flush.
    public func write(_ bytes: UnsafeRawBufferPointer, at offset: UInt64) throws {
        try PositionalIO.write(descriptor, bytes, at: offset, path: path)
        _ = sonic_start_writeback(descriptor, Int64(offset), Int64(bytes.count))
    }

    public func read(into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) throws -> Int {
        try PositionalIO.read(descriptor, into: buffer, at: offset, path: path)
    }

    /// Flushes written data to disk (before a resume record claims it, and before the rename).
    public func sync() throws {
        guard fdatasync(descriptor) == 0 else { throw FileError(path: path, errno: errno) }
    }

    /// The pieces of `manifest` whose bytes in this file already hash right: what a resume
    /// keeps when its record is missing or unreadable.
    public func verifiedPieces(of manifest: Manifest, candidates: some Sequence<Int>) -> [Int] {
        var good: [Int] = []
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: manifest.pieceSize, alignment: 16)
        defer { buffer.deallocate() }
        for piece in candidates {
            let length = manifest.length(ofPiece: piece)
            let slice = UnsafeMutableRawBufferPointer(rebasing: buffer[0..<length])
            guard let n = try? read(into: slice, at: manifest.range(ofPiece: piece).lowerBound), n == length else { continue }
            if SHA256Hash.of(UnsafeRawBufferPointer(slice)) == manifest.pieceHashes[piece] { good.append(piece) }
        }
        return good
    }

    /// Syncs, then renames the partial file to the target (replacing it) and syncs the folder,
    /// so the finished file appears whole under its name or not at all.
    public func commit() throws {
        try sync()
        guard rename(path, targetPath) == 0 else { throw FileError(path: targetPath, errno: errno) }
        let (directory, _) = Self.split(targetPath)
        let dirFD = open(directory.isEmpty ? "." : directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dirFD >= 0 {
            _ = fsync(dirFD)
            Glibc.close(dirFD)
        }
    }
}
