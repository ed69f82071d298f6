import SonicCore

/// Where the web server listens: `--http [HOST:]PORT`. The host defaults to loopback, so the
/// API (which reads the folder and starts downloads) is reachable from this machine only
/// unless someone asks otherwise, and then only with a token (``RequestSafety``).
public struct HTTPBinding: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public static let defaultHost = "127.0.0.1"

    public init(host: String = HTTPBinding.defaultHost, port: Int) {
        self.host = host
        self.port = port
    }

    /// `PORT`, `HOST:PORT` or `[IPv6]:PORT`; nil when it is none of these.
    public init?(parsing text: String) {
        if let port = Int(text) {
            guard (0...65535).contains(port) else { return nil }
            self.init(port: port)
            return
        }
        guard let endpoint = Endpoint(parsing: text) else { return nil }
        self.init(host: endpoint.host, port: endpoint.port)
    }

    /// True for addresses only this machine can reach.
    public var isLoopback: Bool { Endpoint.isLoopback(host) }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}
