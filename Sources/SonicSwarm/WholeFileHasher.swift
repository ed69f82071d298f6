import Crypto
import SonicCore
import Synchronization

/// Computes the whole-file SHA-256 of a download while its pieces arrive in any order.
///
/// Piece hashes prove each piece; only the whole-file hash proves that the manifest's file
/// hash (what `--json` reports and `--hash` selects by) describes those pieces. A hostile
/// manifest can pair a genuine file's SHA-256 with piece hashes of other bytes, so the file
/// is committed only when this hash matches.
///
/// SHA-256 runs front to back, so this follows the verified prefix: a piece that extends it
/// is hashed from the bytes just verified (still in cache); one that arrives ahead of the
/// prefix is read back from the partial file when the prefix reaches it. Every byte is hashed
/// once more in all, spread over the download instead of a pass at the end.
final class WholeFileHasher: Sendable {
    private struct State {
        var hasher = SHA256()
        /// The first piece not yet in the hash.
        var next = 0
        /// Verified pieces ahead of `next`, waiting to be read back.
        var ahead: Set<Int> = []
    }

    private let manifest: Manifest
    private let state = Mutex(State())

    init(manifest: Manifest) {
        self.manifest = manifest
    }

    /// Records that `piece` is verified, with its bytes, and hashes whatever the prefix now
    /// reaches. Holding the lock while hashing keeps the order; peers that verify at the same
    /// moment wait for at most the pieces that became contiguous.
    func pieceVerified(_ piece: Int, bytes: UnsafeRawBufferPointer, file: PartialFile) throws {
        try state.withLock { s in
            guard piece == s.next else {
                if piece > s.next { s.ahead.insert(piece) }
                return
            }
            s.hasher.update(bufferPointer: bytes)
            s.next += 1
            try catchUp(&s, file: file)
        }
    }

    /// The whole-file digest, reading back any verified pieces not yet hashed; nil if some
    /// piece is still missing.
    func finish(file: PartialFile) throws -> SHA256Hash? {
        try state.withLock { s in
            try catchUp(&s, file: file)
            return s.next == manifest.pieceCount ? SHA256Hash(s.hasher.finalize()) : nil
        }
    }

    private func catchUp(_ s: inout State, file: PartialFile) throws {
        guard s.ahead.contains(s.next) else { return }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: manifest.pieceSize, alignment: 16)
        defer { buffer.deallocate() }
        while s.ahead.remove(s.next) != nil {
            let length = manifest.length(ofPiece: s.next)
            let slice = UnsafeMutableRawBufferPointer(rebasing: buffer[0..<length])
            let read = try file.read(into: slice, at: manifest.range(ofPiece: s.next).lowerBound)
            guard read == length else {
                throw FileError(path: file.path, message: "shorter than its verified pieces")
            }
            s.hasher.update(bufferPointer: UnsafeRawBufferPointer(slice))
            s.next += 1
        }
    }
}
