import SonicCore
import SonicWire

/// Why a conversation with another program ended early.
public enum SessionError: Error, CustomStringConvertible, Equatable {
    /// The other side closed the connection.
    case closed
    /// The other side answered with ERROR.
    case remote(ErrorMessage)
    /// The other side sent a message that makes no sense at this point.
    case unexpected(Message.Kind, expecting: String)
    /// Nothing arrived for this long.
    case idleTimeout(seconds: Double)
    /// A frame (or the first one) did not arrive in full within this long.
    case frameTimeout(seconds: Double)
    /// The TCP connection could not be made.
    case connectFailed(Endpoint, String)
    /// The other side runs a members-only network and we have no secret.
    case secretRequired
    /// We have a secret and the other side did not prove it knows the same one.
    case notMember
    /// Server side: the client sent plain frames to this TLS server.
    case clientWithoutTLS
    /// Server side: the client started TLS with this plain server.
    case clientUsesTLS
    /// Client side: we run TLS and the server at this address does not.
    case serverWithoutTLS(Endpoint)
    /// The other side's TLS certificate is not for the peer id we were told to expect: a man
    /// in the middle, a wrong pin, or a program whose identity changed. Nothing was sent.
    case identityMismatch(Endpoint, expected: PeerID, presented: PeerID)
    /// The TLS handshake did not complete within this long.
    case handshakeTimeout(seconds: Double)
    /// The TLS handshake failed.
    case tlsFailed(String)

    /// A peer or index presented another identity than its pin.
    public var isIdentityMismatch: Bool {
        if case .identityMismatch = self { return true }
        return false
    }

    /// An answer that a retry would get again: a refusal (members-only, another protocol
    /// version, a peer's port instead of an index), the other transport, or another identity.
    public var isPermanent: Bool {
        switch self {
        case .secretRequired, .notMember, .serverWithoutTLS, .identityMismatch: true
        case .remote(let e): [.notAuthorized, .versionMismatch, .unexpectedMessage, .tlsMismatch].contains(e.code)
        default: false
        }
    }

    /// The two sides disagree on `--tls`, seen from the client.
    public var isTLSMismatch: Bool {
        switch self {
        case .serverWithoutTLS: true
        case .remote(let e): e.code == .tlsMismatch
        default: false
        }
    }

    /// What a server answers (in clear text, as ERROR `TLS mismatch`) to a client that
    /// speaks the other transport: addressed to the client's user.
    var answer: String {
        switch self {
        case .clientWithoutTLS: "this server runs with --tls on and this client does not use TLS: run the client with --tls on"
        case .clientUsesTLS: "this server runs with --tls off and this client uses TLS: run the client with --tls off"
        default: description
        }
    }

    public var description: String {
        switch self {
        case .closed: "connection closed by the other side"
        case .remote(let e): e.description
        case .unexpected(let kind, let expecting): "unexpected \(kind) (expected \(expecting))"
        case .idleTimeout(let s): "no data for \(formatFixed(s, decimals: 1))s"
        case .frameTimeout(let s): "a frame took longer than \(formatFixed(s, decimals: 1))s to arrive"
        case .connectFailed(let endpoint, let why): "cannot connect to \(endpoint) (\(why))"
        case .secretRequired: "this network is members-only and we have no secret"
        case .notMember: "the other side does not know our network secret (wrong secret, or an open network)"
        case .clientWithoutTLS: "the client does not use TLS (it runs with --tls off) and this server runs with --tls on"
        case .clientUsesTLS: "the client uses TLS and this server runs with --tls off"
        case .serverWithoutTLS(let endpoint):
            "\(endpoint) does not use TLS (it runs with --tls off): run with --tls off to talk to it, or restart it with --tls on"
        case .identityMismatch(let endpoint, let expected, let presented):
            "\(endpoint) presented peer id \(presented), expected \(expected): refused (a man in the middle, or its identity changed)"
        case .handshakeTimeout(let s): "the TLS handshake took longer than \(formatFixed(s, decimals: 1))s"
        case .tlsFailed(let why): "TLS handshake failed: \(why)"
        }
    }
}
