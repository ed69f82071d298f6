import Hummingbird
import Logging
import HTTPTypes
import Crypto
import Glibc
import NIOCore
import SonicCore

/// Writes an uploaded file into the shared folder under a shared name, without ever
/// leaving the folder: the name must pass ``SharedName/isSafe(_:)`` and have no hidden
/// component, every folder on the way is opened with `O_NOFOLLOW` relative to the one
/// before (a symlink planted in the folder is refused, not followed), and the bytes go to
/// a hidden temporary file that is linked under the final name only when complete (an
/// existing file is never replaced).
/// Used by one request at a time, its calls one after another (on the thread pool).
final class FolderUpload: @unchecked Sendable {
    /// Why a name cannot be used, for the API's error message; nil when it can.
    static func problem(with name: String) -> String? {
        guard SharedName.isSafe(name) else { return "the name must be a relative path inside the folder (no '..', no leading '/', no control characters)" }
        let components = name.split(separator: "/")
        if components.contains(where: { $0.hasPrefix(".") }) { return "hidden names (starting with '.') are not shared" }
        if components.contains(where: { $0.utf8.count > 255 }) { return "a path component is longer than 255 bytes" }
        return nil
    }

    private let directory: Int32
    private let descriptor: Int32
    private let temporaryName: String
    private let finalName: String
    private var hasher = SHA256()
    private(set) var written: UInt64 = 0

    /// Creates the folders on the way and the temporary file.
    init(root: String, name: String) throws(APIError) {
        if let problem = Self.problem(with: name) { throw APIError(.badRequest, "bad_name", problem) }
        var components = name.split(separator: "/").map(String.init)
        finalName = components.removeLast()
        var fd = open(root, O_DIRECTORY | O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw APIError(.internalServerError, "internal", "the shared folder cannot be opened") }
        for component in components {
            _ = mkdirat(fd, component, 0o755)
            let next = openat(fd, component, O_DIRECTORY | O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
            let error = errno
            close(fd)
            guard next >= 0 else {
                throw APIError(.badRequest, "bad_name", "\(component.debugDescription) is not a folder inside the shared folder"
                               + (error == ELOOP || error == ENOTDIR ? "" : ": \(String(cString: strerror(error)))"))
            }
            fd = next
        }
        directory = fd
        temporaryName = ".\(finalName.prefix(180)).sonic-upload-\(UInt32.random(in: 0...UInt32.max))"
        descriptor = openat(fd, temporaryName, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            close(fd)
            throw APIError(.internalServerError, "cannot_write", "cannot create the file: \(String(cString: strerror(errno)))")
        }
    }

    func write(_ buffer: ByteBuffer) throws(APIError) {
        buffer.withUnsafeReadableBytes { hasher.update(bufferPointer: $0) }
        let descriptor = self.descriptor
        let ok = buffer.withUnsafeReadableBytes { bytes -> Bool in
            var offset = 0
            while offset < bytes.count {
                let n = Glibc.write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    return false
                }
                offset += n
            }
            return true
        }
        guard ok else { throw APIError(.init(code: 507), "cannot_write", "cannot write the file: \(String(cString: strerror(errno)))") }
        written += UInt64(buffer.readableBytes)
    }

    /// Makes the file visible under its name; refused if that name exists.
    func commit() throws(APIError) -> String {
        guard fsync(descriptor) == 0 else { throw APIError(.init(code: 507), "cannot_write", "cannot write the file") }
        guard linkat(directory, temporaryName, directory, finalName, 0) == 0 else {
            let exists = errno == EEXIST
            throw exists ? APIError(.conflict, "name_taken", "a file named \(finalName.debugDescription) is already shared")
                : APIError(.internalServerError, "cannot_write", "cannot name the file: \(String(cString: strerror(errno)))")
        }
        return SHA256Hash(hasher.finalize()).hex
    }

    deinit {
        unlinkat(directory, temporaryName, 0)
        close(descriptor)
        close(directory)
    }
}
