import ArgumentParser
import SonicCore
import SonicNet

/// Protections of a listening server (docs/SECURITY.md): connection caps and the deadline
/// for a frame to arrive. Defaults differ per program, so they are optional here.
public struct ServerLimitOptions: ParsableArguments, Sendable {
    @Option(help: "Most connections held at once (default: index 4096, seeder 512).")
    var maxConnections: Int?

    @Option(help: "Most connections from one IP address (default: index 256, seeder 128).")
    var maxConnectionsPerIp: Int?

    @Option(parsing: .unconditional, help: "Close a connection whose frame (or first frame) takes longer than this to arrive (default: 10s).", transform: DurationText.argument)
    var frameTimeout = DurationText(.seconds(10))

    public init() {}

    /// `defaults` with the host, port and any limits given on the command line.
    public func listener(_ defaults: ServerListener.Settings, host: String, port: Int, idleTimeout: Duration,
                         secret: NetworkSecret?, transport: TransportSecurity = .off) -> ServerListener.Settings {
        var settings = defaults
        settings.host = host
        settings.port = port
        settings.idleTimeout = idleTimeout
        settings.frameTimeout = frameTimeout.duration
        settings.connections = .init(total: maxConnections ?? defaults.connections.total,
                                     perIP: maxConnectionsPerIp ?? defaults.connections.perIP)
        settings.secret = secret
        settings.transport = transport
        return settings
    }

    public mutating func validate() throws {
        if let n = maxConnections, n < 1 { throw ValidationError("--max-connections must be positive") }
        if let n = maxConnectionsPerIp, n < 1 { throw ValidationError("--max-connections-per-ip must be positive") }
        guard frameTimeout.duration > .zero else { throw ValidationError("--frame-timeout must be positive") }
    }
}
