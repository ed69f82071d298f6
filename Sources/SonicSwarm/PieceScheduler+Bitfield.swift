import SonicCore

extension PieceScheduler {
    /// The verified pieces as a ``PieceBitfield`` (what the resume record stores).
    public var verifiedBitfield: PieceBitfield {
        PieceBitfield(pieceCount: pieceCount, pieces: pieces.indices.filter { pieces[$0].isVerified })
    }
}
