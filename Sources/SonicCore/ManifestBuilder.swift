import Crypto

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Builds a ``Manifest`` by hashing bytes piece by piece, in one pass.
///
/// Feed it the file's bytes in order (any chunking), then call ``finish()``.
public struct ManifestBuilder: Sendable {
    public let fileSize: UInt64
    public let pieceSize: Int
    private var whole = SHA256()
    private var piece = SHA256()
    private var pieceFill = 0
    private var consumed: UInt64 = 0
    private var pieceHashes: [SHA256Hash] = []

    public init(fileSize: UInt64, pieceSize: Int? = nil) {
        self.fileSize = fileSize
        self.pieceSize = pieceSize ?? Manifest.pieceSize(forFileSize: fileSize)
        pieceHashes.reserveCapacity(Manifest.pieceCount(fileSize: fileSize, pieceSize: self.pieceSize))
    }

    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        whole.update(bufferPointer: bytes)
        var rest = bytes[...]
        while !rest.isEmpty {
            let take = min(pieceSize - pieceFill, rest.count)
            piece.update(bufferPointer: UnsafeRawBufferPointer(rebasing: rest.prefix(take)))
            pieceFill += take
            rest = rest.dropFirst(take)
            if pieceFill == pieceSize { closePiece() }
        }
        consumed += UInt64(bytes.count)
    }

    public mutating func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { update($0) }
    }

    private mutating func closePiece() {
        pieceHashes.append(SHA256Hash(piece.finalize()))
        piece = SHA256()
        pieceFill = 0
    }

    public enum Failure: Error, Equatable {
        case sizeMismatch(expected: UInt64, actual: UInt64)
    }

    public mutating func finish() throws(Failure) -> Manifest {
        guard consumed == fileSize else { throw .sizeMismatch(expected: fileSize, actual: consumed) }
        if pieceFill > 0 { closePiece() }
        return Manifest(
            fileSize: fileSize, pieceSize: pieceSize,
            fileHash: SHA256Hash(whole.finalize()), pieceHashes: pieceHashes
        )
    }

    /// The manifest of an in-memory byte array (tests, small data).
    public static func manifest(of bytes: [UInt8], pieceSize: Int? = nil) -> Manifest {
        var b = ManifestBuilder(fileSize: UInt64(bytes.count), pieceSize: pieceSize)
        b.update(bytes)
        return try! b.finish()
    }

    /// Hashes the file at `path`. Throws if it cannot be read or its size changes while reading.
    public static func manifest(ofFileAt path: String, pieceSize: Int? = nil) throws -> Manifest {
        let file = try ReadOnlyFile(path: path)
        defer { file.close() }
        return try manifest(of: file, pieceSize: pieceSize)
    }

    /// Hashes an open file from its start.
    public static func manifest(of file: ReadOnlyFile, pieceSize: Int? = nil) throws -> Manifest {
        let path = file.path
        let size = try file.size()
        var builder = ManifestBuilder(fileSize: size, pieceSize: pieceSize)
        let chunk = 1 << 20
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: chunk, alignment: 16)
        defer { buffer.deallocate() }
        var offset: UInt64 = 0
        while offset < size {
            let n = try file.read(into: buffer, at: offset)
            if n == 0 { break }
            builder.update(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
            offset += UInt64(n)
        }
        do {
            return try builder.finish()
        } catch {
            throw FileError(path: path, message: "file changed while it was being hashed")
        }
    }
}

/// A file error with the path and a human sentence.
public struct FileError: Error, CustomStringConvertible, Sendable {
    public let path: String
    public let message: String
    public init(path: String, message: String) {
        self.path = path
        self.message = message
    }
    public init(path: String, errno code: Int32) {
        self.init(path: path, message: String(cString: strerror(code)))
    }
    public var description: String { "\(path): \(message)" }
}

/// A read-only file descriptor with positional reads (`pread`), safe to share across tasks.
public final class ReadOnlyFile: Sendable {
    public let path: String
    public let descriptor: Int32

    public init(path: String) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw FileError(path: path, errno: errno) }
        self.path = path
        self.descriptor = fd
    }

    private init(path: String, descriptor: Int32) {
        self.path = path
        self.descriptor = descriptor
    }

    /// A reader of a file another object already holds open (a `dup` of `descriptor`): no
    /// path is resolved again, so a link swapped in at that path since is never followed.
    public static func duplicating(_ descriptor: Int32, path: String) throws -> ReadOnlyFile {
        let fd = fcntl(descriptor, F_DUPFD_CLOEXEC, 0)
        guard fd >= 0 else { throw FileError(path: path, errno: errno) }
        return ReadOnlyFile(path: path, descriptor: fd)
    }

    /// Opens the shared file `root/relativePath` without following any symbolic link below
    /// `root` (each folder is opened from the one before with `O_NOFOLLOW`), then checks that
    /// it is the very file a scan recorded: a regular file with the same device, inode, size
    /// and modification time. A file swapped for a link to something outside the folder, or
    /// replaced in any way since the scan, is refused.
    public static func openShared(root: String, relativePath: String, expecting expected: FileStatus) throws -> ReadOnlyFile {
        let path = root + "/" + relativePath
        var directory = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard directory >= 0 else { throw FileError(path: root, errno: errno) }
        let components = relativePath.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        for (i, component) in components.enumerated() {
            let last = i == components.count - 1
            // O_NONBLOCK: a FIFO swapped in must not block the open; no effect on regular files.
            let flags = O_RDONLY | O_CLOEXEC | O_NOFOLLOW | (last ? O_NONBLOCK : O_DIRECTORY)
            let next = openat(directory, component, flags)
            let code = errno
            Glibc.close(directory)
            guard next >= 0 else {
                let why = code == ELOOP || code == ENOTDIR ? "a symbolic link or not a folder where the scan found none; refused"
                    : String(cString: strerror(code))
                throw FileError(path: path, message: why)
            }
            directory = next
        }
        var st = stat()
        guard fstat(directory, &st) == 0, st.st_mode & S_IFMT == S_IFREG, FileStatus(st) == expected else {
            Glibc.close(directory)
            throw FileError(path: path, message: "changed since it was scanned (not the same file any more)")
        }
        return ReadOnlyFile(path: path, descriptor: directory)
    }

    public func size() throws -> UInt64 {
        try status().size
    }

    /// Size and modification time (nanoseconds since the epoch) of the open file.
    public func status() throws -> FileStatus {
        var st = stat()
        guard fstat(descriptor, &st) == 0 else { throw FileError(path: path, errno: errno) }
        return FileStatus(st)
    }

    /// Reads up to `buffer.count` bytes at `offset`; fewer only at end of file.
    public func read(into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) throws -> Int {
        try PositionalIO.read(descriptor, into: buffer, at: offset, path: path)
    }

    public func close() {
        _ = Glibc.close(descriptor)
    }
}

/// The facts about a file that decide whether a cached manifest still describes it, and
/// whether a file opened to be served is the one that was scanned (device and inode).
public struct FileStatus: Hashable, Sendable, Codable {
    public var size: UInt64
    public var modificationNanoseconds: Int64
    public var inode: UInt64
    public var device: UInt64

    public init(size: UInt64, modificationNanoseconds: Int64, inode: UInt64, device: UInt64 = 0) {
        self.size = size
        self.modificationNanoseconds = modificationNanoseconds
        self.inode = inode
        self.device = device
    }

    init(_ st: stat) {
        self.size = UInt64(st.st_size)
        self.modificationNanoseconds = Int64(st.st_mtim.tv_sec) * 1_000_000_000 + Int64(st.st_mtim.tv_nsec)
        self.inode = UInt64(st.st_ino)
        self.device = UInt64(st.st_dev)
    }

    /// Whether `path` is a folder (follows symlinks); false if it does not exist.
    public static func isDirectory(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && st.st_mode & S_IFMT == S_IFDIR
    }

    /// `stat` of a path (follows symlinks).
    public static func of(path: String) throws -> FileStatus {
        var st = stat()
        guard stat(path, &st) == 0 else { throw FileError(path: path, errno: errno) }
        return FileStatus(st)
    }
}
