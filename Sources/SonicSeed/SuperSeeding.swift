import SonicCore
import SonicWire
import Synchronization

/// The ``PieceOffers`` of every content that trading downloaders fetch from this peer, and
/// where to send each trader's offers (its connection's outgoing message stream).
final class SuperSeeding: Sendable {
    /// Pieces a trader has on offer at once: more than a downloader keeps in flight per peer,
    /// so offers never hold a connection up.
    static let window = 4

    fileprivate struct State {
        var offers: [ContentID: PieceOffers] = [:]
        var connections: [UInt64: (content: ContentID, send: AsyncStream<Message>.Continuation)] = [:]
    }

    private let state = Mutex(State())

    /// A trader on `connection` asked the manifest of `manifest`'s content: the BITFIELD to
    /// send it. Later offers go to `send`. One content per connection is super-seeded (the
    /// first asked); a connection asking another gets that one whole.
    func join(_ connection: UInt64, manifest: Manifest, send: AsyncStream<Message>.Continuation) -> PieceBitfield {
        let content = manifest.contentID
        let (offered, others) = state.withLock { s -> (PieceBitfield, [Delivery]) in
            if let joined = s.connections[connection], joined.content != content {
                return (PieceBitfield(pieceCount: manifest.pieceCount, pieces: 0..<manifest.pieceCount), [])
            }
            s.connections[connection] = (content, send)
            let (offered, others) = s.offers[content, default: PieceOffers(
                pieceCount: manifest.pieceCount, window: Self.window, seed: UInt64.random(in: .min ... .max))].join(connection)
            return (offered, s.deliveries(others, content: content))
        }
        for delivery in others { delivery.send() }
        return offered
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
        let deliveries = state.withLock { s -> [Delivery] in
            guard let joined = s.connections.removeValue(forKey: connection) else { return [] }
            let offers = s.offers[joined.content]?.leave(connection) ?? []
            if s.offers[joined.content]?.isEmpty == true { s.offers[joined.content] = nil }
            return s.deliveries(offers, content: joined.content)
        }
        for delivery in deliveries { delivery.send() }
    }

    private func update(_ connection: UInt64, content: ContentID, _ change: (inout PieceOffers) -> [PieceOffers.Offer]) {
        let deliveries = state.withLock { s -> [Delivery] in
            guard let joined = s.connections[connection], joined.content == content else { return [] }
            return s.deliveries(change(&s.offers[content]!), content: content)
        }
        for delivery in deliveries { delivery.send() }
    }

    /// An offer and the connection stream it goes to, sent after the lock is released.
    fileprivate struct Delivery {
        var offer: PieceOffers.Offer
        var content: ContentID
        var stream: AsyncStream<Message>.Continuation

        func send() {
            switch offer {
            case .pieces(_, let pieces):
                for piece in pieces { stream.yield(.have(content, piece: UInt32(piece))) }
            case .only(_, let offered):
                // A new BITFIELD replaces what the connection was offered.
                stream.yield(.bitfield(content, offered))
            }
        }
    }
}

extension SuperSeeding.State {
    fileprivate func deliveries(_ offers: [PieceOffers.Offer], content: ContentID) -> [SuperSeeding.Delivery] {
        offers.compactMap { offer in
            let connection: UInt64
            switch offer {
            case .pieces(let c, _), .only(let c, _): connection = c
            }
            return connections[connection].map { SuperSeeding.Delivery(offer: offer, content: content, stream: $0.send) }
        }
    }
}
