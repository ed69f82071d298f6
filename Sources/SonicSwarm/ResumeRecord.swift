#if canImport(FoundationEssentials)
import FoundationEssentials
import Glibc
#else
import Foundation
#endif
import SonicCore

/// What an interrupted download remembers: which content it was fetching and which pieces
/// were verified and written. Stored beside the partial file as `.<name>.sonic-resume`,
/// replaced atomically (temp file + rename) so it is never seen half-written. If it is lost
/// or unreadable, the partial file is rehashed and the pieces that match are kept.
public struct ResumeRecord: Codable, Equatable, Sendable {
    public static let currentVersion = 1

    public var version: Int
    public var contentID: String
    public var pieceCount: Int
    /// Verified pieces as a ``PieceBitfield``, hex-encoded.
    public var verified: String

    public init(contentID: ContentID, verified: PieceBitfield) {
        self.version = Self.currentVersion
        self.contentID = contentID.hex
        self.pieceCount = verified.pieceCount
        self.verified = Hex.encode(verified.bytes)
    }

    /// The verified pieces, if the record is for `contentID` with `pieceCount` pieces.
    public func verifiedPieces(for contentID: ContentID, pieceCount: Int) -> [Int]? {
        guard version == Self.currentVersion, self.contentID == contentID.hex, self.pieceCount == pieceCount,
              let bytes = Hex.decode(verified), let bitfield = PieceBitfield(bytes: bytes, pieceCount: pieceCount)
        else { return nil }
        return bitfield.pieces
    }

    public static func path(for target: String) -> String {
        PartialFile.sibling(of: target, suffix: ".sonic-resume")
    }

    /// Longest record read: a 16,384-piece bitfield is 4 KiB of hex.
    static let maximumFileLength = 64 << 10

    /// The record at `path`, or nil if there is none, it is unreadable, or it is not a regular
    /// file (a planted symlink is never followed).
    public static func load(from path: String) -> ResumeRecord? {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, st.st_mode & S_IFMT == S_IFREG, st.st_size <= maximumFileLength else { return nil }
        var bytes = [UInt8](repeating: 0, count: Int(st.st_size))
        let n = bytes.withUnsafeMutableBytes { buffer in
            (try? PositionalIO.read(fd, into: buffer, at: 0, path: path)) ?? -1
        }
        guard n == bytes.count else { return nil }
        return try? JSONDecoder().decode(ResumeRecord.self, from: Data(bytes))
    }

    /// Replaces the record atomically: a fresh temporary file (created exclusively, never
    /// through a link left at its path), then a rename over the old record.
    public func save(to path: String) throws {
        let data = Array(try JSONEncoder().encode(self))
        let temp = path + ".tmp"
        unlink(temp)
        let fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o644)
        guard fd >= 0 else { throw FileError(path: temp, errno: errno) }
        do {
            try data.withUnsafeBytes { try PositionalIO.write(fd, $0, at: 0, path: temp) }
        } catch {
            close(fd)
            unlink(temp)
            throw error
        }
        close(fd)
        guard rename(temp, path) == 0 else { throw FileError(path: path, errno: errno) }
    }

    public static func remove(at path: String) {
        unlink(path)
    }
}
