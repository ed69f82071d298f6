import Crypto
import CSystemShims
import Dispatch
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
    /// True if it was empty when opened (created now): nothing of an earlier run is in it.
    public let startedEmpty: Bool
    private let descriptor: Int32
    /// Starts the writeback of written blocks, in order, off the writers' threads: while a
    /// checkpoint's `fdatasync` commits, starting writeback on the same file waits for it
    /// (measured: 40 ms), and a writer waiting there would hold up every connection on its
    /// thread of the concurrency pool.
    private let writeback = DispatchQueue(label: "sonic-share.writeback")

    /// A reader of this very file (its descriptor duplicated, the path not resolved again),
    /// for serving its verified pieces to other peers.
    public func reader() throws -> ReadOnlyFile {
        try ReadOnlyFile.duplicating(descriptor, path: path)
    }

    /// Opens (creating if needed) the partial file for `targetPath` and sizes it to `size`.
    ///
    /// Refuses a symlink or anything else that is not a regular file at the partial path (a
    /// planted link would make the download overwrite its target), checks the folder's free
    /// space before reserving, and fails if the reservation fails for lack of space.
    /// Errors name the folder, not the hidden file, when the folder is the problem.
    public init(targetPath: String, size: UInt64) throws {
        self.targetPath = targetPath
        self.path = Self.partialPath(for: targetPath)
        self.size = size
        let folder = Self.folder(of: targetPath)
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o644)
        guard fd >= 0 else {
            let code = errno
            switch code {
            case ELOOP: throw FileError(path: path, message: "is a symbolic link; refusing to write through it")
            case ENOENT, ENOTDIR: throw FileError(path: folder, message: "no such folder")
            default: throw FileError(path: folder, message: "cannot create a file here: \(String(cString: strerror(code)))")
            }
        }
        var st = stat()
        guard fstat(fd, &st) == 0, st.st_mode & S_IFMT == S_IFREG else {
            Glibc.close(fd)
            throw FileError(path: path, message: "is not a regular file; refusing to write into it")
        }
        if let holder = Self.lockExclusively(fd) {
            Glibc.close(fd)
            throw Busy(targetPath: targetPath, processID: holder)
        }
        self.existed = UInt64(st.st_size) == size && size > 0
        self.startedEmpty = st.st_size == 0
        do {
            try Self.reserve(fd, size: size, allocatedBytes: UInt64(st.st_blocks) * 512, folder: folder)
        } catch {
            Glibc.close(fd)
            if st.st_size == 0 { unlink(path) }
            throw error
        }
        self.descriptor = fd
    }

    /// Another `sonic-get` is writing the same target.
    public struct Busy: Error, CustomStringConvertible {
        public var targetPath: String
        /// The process holding the lock, when the system says (0 if unknown).
        public var processID: Int32
        public var description: String {
            "\(targetPath) is already being downloaded" + (processID > 0 ? " by PID \(processID)" : " by another process")
        }
    }

    /// Takes a write lock on the whole file (`fcntl` record lock, released when the process
    /// exits however it ends); returns the holder's PID if another process has it.
    private static func lockExclusively(_ fd: Int32) -> Int32? {
        var lock = flock()
        lock.l_type = Int16(F_WRLCK)
        lock.l_whence = Int16(SEEK_SET)
        guard fcntl(fd, F_SETLK, &lock) != 0 else { return nil }
        guard errno == EACCES || errno == EAGAIN else { return nil }  // no locking here: go on unlocked
        var probe = flock()
        probe.l_type = Int16(F_WRLCK)
        probe.l_whence = Int16(SEEK_SET)
        _ = fcntl(fd, F_GETLK, &probe)
        return probe.l_type == Int16(F_UNLCK) ? 0 : probe.l_pid
    }

    /// Sizes the file to `size` and reserves its blocks, so a full disk fails here, not halfway
    /// through. Free space is checked first: a hostile manifest may declare any size.
    private static func reserve(_ fd: Int32, size: UInt64, allocatedBytes: UInt64, folder: String) throws {
        var fs = statvfs()
        if fstatvfs(fd, &fs) == 0 {
            let free = UInt64(fs.f_bavail).multipliedReportingOverflow(by: UInt64(fs.f_frsize))
            let available = free.overflow ? UInt64.max : free.partialValue
            if size > allocatedBytes, size - allocatedBytes > available {
                throw FileError(path: folder, message: "not enough free space: the file needs \(ByteCount(size)), "
                                + "\(ByteCount(available)) is free")
            }
        }
        guard size <= UInt64(Int64.max), ftruncate(fd, off_t(size)) == 0 else {
            throw FileError(path: folder, message: "cannot make a file of \(ByteCount(size)) here: \(String(cString: strerror(errno)))")
        }
        guard size > 0 else { return }
        // Some file systems cannot reserve (EOPNOTSUPP, EINVAL): sparse writes still work there.
        let result = posix_fallocate(fd, 0, off_t(size))
        guard result == 0 || result == EOPNOTSUPP || result == EINVAL else {
            throw FileError(path: folder, message: "cannot reserve \(ByteCount(size)): \(String(cString: strerror(result)))")
        }
    }

    /// The folder a target is written in, for messages.
    static func folder(of target: String) -> String {
        let (directory, _) = split(target)
        return directory.isEmpty ? "." : String(directory.dropLast()).isEmpty ? "/" : String(directory.dropLast())
    }

    deinit {
        Glibc.close(descriptor)
    }

    /// `.<base name>.sonic-part` in the target's folder: hidden, so a seeder sharing that folder
    /// never offers a half-written file.
    public static func partialPath(for target: String) -> String {
        sibling(of: target, suffix: ".sonic-part")
    }

    /// `.<base><suffix>` beside the target. A file name holds at most 255 bytes, so for a long
    /// base name (whose hidden names, with `.sonic-resume.tmp`, would not fit) the base is
    /// cut on a character boundary and tagged with a hash of the whole base, which keeps
    /// names of different targets apart.
    static func sibling(of target: String, suffix: String) -> String {
        let (directory, base) = split(target)
        return directory + "." + stem(of: base) + suffix
    }

    static let maximumNameLength = 255
    /// The longest suffix a hidden sibling gets (the resume record's temporary file).
    static let longestSuffix = ".sonic-resume.tmp"

    static func stem(of base: String) -> String {
        guard 1 + base.utf8.count + longestSuffix.utf8.count > maximumNameLength else { return base }
        let tag = String(SHA256Hash.of(Array(base.utf8)).hex.prefix(12))
        let room = maximumNameLength - 1 - longestSuffix.utf8.count - 1 - tag.utf8.count
        var prefix = ""
        var used = 0
        for scalar in base.unicodeScalars {
            let width = String(scalar).utf8.count
            guard used + width <= room else { break }
            prefix.unicodeScalars.append(scalar)
            used += width
        }
        return prefix + "~" + tag
    }

    /// (folder with trailing slash or empty, base name)
    static func split(_ path: String) -> (String, String) {
        guard let slash = path.lastIndex(of: "/") else { return ("", path) }
        return (String(path[...slash]), String(path[path.index(after: slash)...]))
    }

    /// Writes all of `bytes` at `offset`, and has their writeback started soon (not waiting
    /// for it), so the final `fdatasync` before the rename finds little left to flush.
    public func write(_ bytes: UnsafeRawBufferPointer, at offset: UInt64) throws {
        try PositionalIO.write(descriptor, bytes, at: offset, path: path)
        let (start, length) = (Int64(offset), Int64(bytes.count))
        // The closure keeps the file, and so its descriptor, open until it has run.
        writeback.async { [self] in _ = sonic_start_writeback(descriptor, start, length) }
    }

    public func read(into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) throws -> Int {
        try PositionalIO.read(descriptor, into: buffer, at: offset, path: path)
    }

    /// Flushes written data to disk (before a resume record claims it, and before the rename).
    public func sync() throws {
        guard fdatasync(descriptor) == 0 else { throw FileError(path: path, errno: errno) }
    }

    /// The pieces of `manifest` among `candidates` whose bytes in this file hash right.
    public func verifiedPieces(of manifest: Manifest, candidates: [Int]) -> [Int] {
        candidates.filter { piece in
            var hasher = SHA256()
            guard (try? readChunks(manifest.range(ofPiece: piece), { hasher.update(bufferPointer: $0) })) != nil
            else { return false }
            return SHA256Hash(hasher.finalize()) == manifest.pieceHashes[piece]
        }
    }

    /// Size of the reads of ``readChunks(_:_:)``: memory stays bounded whatever the piece size.
    static let chunkLength = 1 << 20

    /// Reads `range` in chunks of at most ``chunkLength`` bytes, handing each to `body`;
    /// throws if the file is shorter.
    func readChunks(_ range: Range<UInt64>, _ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: Self.chunkLength, alignment: 16)
        defer { buffer.deallocate() }
        var offset = range.lowerBound
        while offset < range.upperBound {
            let count = Int(min(UInt64(Self.chunkLength), range.upperBound - offset))
            let slice = UnsafeMutableRawBufferPointer(rebasing: buffer[0..<count])
            guard try read(into: slice, at: offset) == count else {
                throw FileError(path: path, message: "shorter than its verified pieces")
            }
            try body(UnsafeRawBufferPointer(slice))
            offset += UInt64(count)
        }
    }

    /// Deletes the partial file (its content must never be committed).
    public func discard() {
        unlink(path)
    }

    /// Renames the partial file, flushed by the caller (``sync()``), to the target (replacing
    /// it) and syncs the folder, so the finished file appears whole under its name or not at all.
    public func commit() throws {
        guard rename(path, targetPath) == 0 else { throw FileError(path: targetPath, errno: errno) }
        let (directory, _) = Self.split(targetPath)
        let dirFD = open(directory.isEmpty ? "." : directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dirFD >= 0 {
            _ = fsync(dirFD)
            Glibc.close(dirFD)
        }
    }
}
