import SonicCore
import SonicWire
import Synchronization

/// The ``PieceOffers`` of every content that trading downloaders fetch from this peer, and
/// where to send each trader's offers (its connection's outgoing message stream).
final class SuperSeeding: Sendable {
    /// Pieces a trader has on offer at once: more than a downloader keeps in flight per peer,
    /// so offers never hold a connection up.
    static let window = 4

    private struct State {
        var offers: [ContentID: PieceOffers] = [:]
        var connections: [UInt64: (content: ContentID, send: AsyncStream<Message>.Continuation)] = [:]
    }

    private let state = Mutex(State())

    /// A trader on `connection` asked the manifest of `manifest`'s content: the BITFIELD to
    /// send it. Later offers go to `send`. One content per connection is super-seeded (the
    /// first asked); a connection asking another gets that one whole.
    func join(_ connection: UInt64, manifest: Manifest, send: AsyncStream<Message>.Continuation) -> PieceBitfield {
        let content = manifest.contentID
        return state.withLock { s in
            if let joined = s.connections[connection], joined.content != content {
                return PieceBitfield(pieceCount: manifest.pieceCount, pieces: 0..<manifest.pieceCount)
            }
            s.connections[connection] = (content, send)
            return s.offers[content, default: PieceOffers(pieceCount: manifest.pieceCount, window: Self.window,
                                                          seed: UInt64.random(in: .min ... .max))].join(connection)
        }
    }

    /// The trader requested bytes `offset..<offset+length` of `content`.
    func requested(_ connection: UInt64, content: ContentID, offset: UInt64, length: UInt64, pieceSize: Int) {
        guard length > 0 else { return }
        let first = Int(offset / UInt64(pieceSize)), last = Int((offset + length - 1) / UInt64(pieceSize))
        update(connection, content: content) { $0.requested(connection, pieces: first...last) }
    }

    /// The trader now holds `pieces` of `content` (its BITFIELD or HAVE).
    func holds(_ connection: UInt64, content: ContentID, pieces: [Int]) {
        update(connection, content: content) { $0.holds(connection, pieces: pieces) }
    }

    /// The connection ended.
    func leave(_ connection: UInt64) {
        let (offer, send, content) = state.withLock { s -> (PieceOffers.Offer?, AsyncStream<Message>.Continuation?, ContentID?) in
            guard let joined = s.connections.removeValue(forKey: connection) else { return (nil, nil, nil) }
            let offer = s.offers[joined.content]?.leave(connection)
            if s.offers[joined.content]?.isEmpty == true { s.offers[joined.content] = nil }
            if case .everything(let last, _)? = offer { return (offer, s.connections[last]?.send, joined.content) }
            return (nil, nil, nil)
        }
        if let offer, let send, let content { deliver(offer, to: send, content: content) }
    }

    private func update(_ connection: UInt64, content: ContentID, _ change: (inout PieceOffers) -> PieceOffers.Offer?) {
        let (offer, send) = state.withLock { s -> (PieceOffers.Offer?, AsyncStream<Message>.Continuation?) in
            guard let joined = s.connections[connection], joined.content == content,
                  let offer = change(&s.offers[content]!) else { return (nil, nil) }
            return (offer, joined.send)
        }
        if let offer, let send { deliver(offer, to: send, content: content) }
    }

    private func deliver(_ offer: PieceOffers.Offer, to send: AsyncStream<Message>.Continuation, content: ContentID) {
        switch offer {
        case .pieces(_, let pieces):
            for piece in pieces { send.yield(.have(content, piece: UInt32(piece))) }
        case .everything(_, let pieceCount):
            // A new BITFIELD replaces what the connection was offered.
            send.yield(.bitfield(content, PieceBitfield(pieceCount: pieceCount, pieces: 0..<pieceCount)))
        }
    }
}
