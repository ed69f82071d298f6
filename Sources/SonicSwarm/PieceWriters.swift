import SonicCore
import Synchronization

/// Who may write each piece's bytes into the partial file, so that memory is bounded by
/// blocks, not pieces, and a verified piece is never written again.
///
/// A piece's only requester writes each block through as it arrives (hashing it on the
/// way) and keeps nothing: a 64 MiB piece costs one block of memory. An endgame duplicate
/// buffers its copy instead, because the first requester is writing the same bytes; if the
/// duplicate's copy verifies first, it takes the piece over and writes it whole, and the first
/// requester's next write is refused. Writes and the take-over of one piece are serialised
/// by that piece's own lock, so a late block can never land on a verified piece. A piece that
/// fails verification was never marked verified, and its next writer overwrites it whole.
final class PieceWriters: Sendable {
    private final class Slot: Sendable {
        struct State {
            /// The requester whose blocks go to the file (nil: none yet).
            var writer: Int?
            var verified = false
        }
        let state = Mutex(State())
    }

    private let slots = Mutex<[Int: Slot]>([:])
    private let file: PartialFile

    init(file: PartialFile) {
        self.file = file
    }

    private func slot(_ piece: Int) -> Slot {
        slots.withLock { slots in
            if let slot = slots[piece] { return slot }
            let slot = Slot()
            slots[piece] = slot
            return slot
        }
    }

    /// Makes `peer` the writer of `piece` if nobody writes it yet; false if someone does (the
    /// peer then buffers: it is a duplicate) or the piece is verified.
    func claim(_ piece: Int, for peer: Int) -> Bool {
        slot(piece).state.withLock { s in
            guard !s.verified, s.writer == nil || s.writer == peer else { return false }
            s.writer = peer
            return true
        }
    }

    /// Writes a block of `piece` from its writer `peer`; false (nothing written) if `peer` is
    /// no longer its writer or the piece is verified.
    func write(_ bytes: UnsafeRawBufferPointer, at offset: UInt64, piece: Int, from peer: Int) throws -> Bool {
        try slot(piece).state.withLock { s in
            guard !s.verified, s.writer == peer else { return false }
            try file.write(bytes, at: offset)
            return true
        }
    }

    /// `peer`'s copy of `piece` verified. A buffered copy (`bytes`, from a duplicate) is
    /// written whole first, taking the piece over. False if the piece was verified already or
    /// `peer` wrote through but lost the piece meanwhile.
    func verified(_ piece: Int, by peer: Int, buffered bytes: UnsafeRawBufferPointer?, at offset: UInt64) throws -> Bool {
        try slot(piece).state.withLock { s in
            guard !s.verified else { return false }
            if let bytes {
                try file.write(bytes, at: offset)
                s.writer = peer
            } else if s.writer != peer {
                return false
            }
            s.verified = true
            return true
        }
    }

    /// `peer` gave up `piece` (failed, cancelled, corrupt): someone else may write it.
    func released(_ piece: Int, by peer: Int) {
        slot(piece).state.withLock { s in
            if s.writer == peer && !s.verified { s.writer = nil }
        }
    }
}
