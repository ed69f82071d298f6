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
        }
    }
}
