import Crypto
import SonicCore
import SonicWire

/// The shared secret of a members-only network (`--secret-file` / `SONIC_SECRET`).
///
/// It never crosses the wire: both sides prove they know it with HMAC-SHA256 over two fresh
/// random nonces, one chosen by each side (docs/PROTOCOL.md, "Handshake"; docs/SECURITY.md).
/// The server proves first, so a client never answers a challenge from a non-member.
public struct NetworkSecret: Sendable {
    private let key: SymmetricKey

    public init(_ bytes: [UInt8]) {
        precondition(!bytes.isEmpty)
        key = SymmetricKey(data: bytes)
    }

    static let serverLabel = Array("sonic-share server proof v1".utf8)
    static let clientLabel = Array("sonic-share client proof v1".utf8)

    /// The TLS identities of both ends of the connection, as each side's handshake proved
    /// them. Both proofs cover them: a relay in the middle has its own certificate on each
    /// side, so the two ends compute over different ids and no proof it passes along matches.
    public struct Binding: Sendable, Equatable {
        public var server: PeerID
        public var client: PeerID

        public init(server: PeerID, client: PeerID) {
            self.server = server
            self.client = client
        }

        static let label = Array("tls".utf8)
        var bytes: [UInt8] { Self.label + server.hash.bytes + client.hash.bytes }
    }

    /// The server's proof: HMAC(secret, server label ‖ client nonce ‖ server nonce
    /// [‖ "tls" ‖ server peer id ‖ client peer id]); the ids over TLS only.
    public func serverProof(clientNonce: [UInt8], serverNonce: [UInt8], binding: Binding? = nil) -> [UInt8] {
        mac(Self.serverLabel + clientNonce + serverNonce + (binding?.bytes ?? []))
    }

    /// The client's proof: HMAC(secret, client label ‖ server nonce ‖ client nonce
    /// [‖ "tls" ‖ server peer id ‖ client peer id]); the ids over TLS only.
    public func clientProof(clientNonce: [UInt8], serverNonce: [UInt8], binding: Binding? = nil) -> [UInt8] {
        mac(Self.clientLabel + serverNonce + clientNonce + (binding?.bytes ?? []))
    }

    /// Compares proofs in constant time.
    public static func matches(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for i in a.indices { difference |= a[i] ^ b[i] }
        return difference == 0
    }

    private func mac(_ message: [UInt8]) -> [UInt8] {
        Array(HMAC<SHA256>.authenticationCode(for: message, using: key))
    }

    /// Fresh random nonce for a handshake.
    public static func makeNonce() -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        return (0..<Hello.nonceLength).map { _ in UInt8.random(in: 0...255, using: &generator) }
    }
}
