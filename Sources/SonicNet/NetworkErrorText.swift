import NIOCore
import NIOPosix
import SonicCore

#if canImport(Glibc)
import Glibc
#endif

/// The one place where errors from NIO and the system become short human reasons, such as
/// "connection refused" or "address already in use": never a type dump with errno numbers.
/// Callers put the reason in a sentence that names the address; the command-line programs
/// add hints about their own flags.
public enum NetworkErrorText {
    public static func reason(_ error: any Error) -> String {
        switch error {
        case let io as IOError:
            return String(cString: strerror(io.errnoCode)).lowercased()
        case let connection as NIOConnectionError:
            if let first = connection.connectionErrors.first { return reason(first.error) }
            if connection.dnsAError != nil || connection.dnsAAAAError != nil { return "unknown host \(connection.host)" }
            return "no address to connect to"
        case ChannelError.connectTimeout:
            return "timed out"
        case let session as SessionError:
            return session.description
        default:
            return String(describing: error)
        }
    }
}

/// A server could not listen where it was asked to.
public struct ListenFailed: Error, CustomStringConvertible {
    public var host: String
    public var port: Int
    public var reason: String
    public var addressInUse: Bool
    public var description: String { "cannot listen on \(Endpoint(host: host, port: port)) (\(reason))" }
}
