import Crypto
import Dispatch
import SonicCore
import Synchronization

/// Computes the whole-file SHA-256 of a download while its pieces arrive in any order.
///
/// Piece hashes prove each piece; only the whole-file hash proves that the manifest's file
/// hash (what `--json` reports and `--hash` selects by) describes those pieces. A hostile
/// manifest can pair a genuine file's SHA-256 with piece hashes of other bytes, so the file
/// is committed only when this hash matches.
///
/// SHA-256 runs front to back, so this follows the verified prefix: whenever the prefix
/// grows, the new pieces are read back from the partial file (from the page cache, just
/// written) and hashed. The work runs on a serial dispatch queue of its own, so it overlaps
/// the download instead of holding up the peer tasks or the concurrency pool; ``finish(file:)``
/// waits for it.
final class WholeFileHasher: Sendable {
    private struct State {
        var hasher = SHA256()
        /// The first piece not yet in the hash.
        var next = 0
        /// Verified pieces ahead of `next`, waiting for the prefix to reach them.
        var ahead: Set<Int> = []
        /// A read-back failure, reported by `finish`.
        var failure: FileError?
    }

    private let manifest: Manifest
    private let state = Mutex(State())
    private let queue = DispatchQueue(label: "sonic-share.whole-file-hash")

    init(manifest: Manifest) {
        self.manifest = manifest
    }

    /// Records that `piece` is verified and written to `file`; hashing follows on the queue.
    func pieceVerified(_ piece: Int, file: PartialFile) {
        queue.async { [self] in
            state.withLock { s in
                if piece >= s.next { s.ahead.insert(piece) }
                catchUp(&s, file: file)
            }
        }
    }

    /// The whole-file digest once every piece is in; nil if some piece is still missing.
    func finish(file: PartialFile) throws -> SHA256Hash? {
        try queue.sync {
            try state.withLock { s in
                catchUp(&s, file: file)
                if let failure = s.failure { throw failure }
                return s.next == manifest.pieceCount ? SHA256Hash(s.hasher.finalize()) : nil
            }
        }
    }

    private func catchUp(_ s: inout State, file: PartialFile) {
        guard s.failure == nil, s.ahead.contains(s.next) else { return }
        while s.ahead.remove(s.next) != nil {
            let range = manifest.range(ofPiece: s.next)
            do {
                try file.readChunks(range) { s.hasher.update(bufferPointer: $0) }
            } catch {
                s.failure = FileError(path: file.path, message: "cannot read back verified piece \(s.next)")
                return
            }
            s.next += 1
        }
    }
}
