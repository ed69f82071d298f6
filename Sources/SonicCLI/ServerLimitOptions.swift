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

    @Option(help: "Close a connection whose frame (or first frame) takes longer than this to arrive.")
    var frameTimeout = DurationText(.seconds(10))

    public init() {}

    public func connections(default fallback: ConnectionLimiter.Limits) -> ConnectionLimiter.Limits {
        .init(total: maxConnections ?? fallback.total, perIP: maxConnectionsPerIp ?? fallback.perIP)
    }

    public var frameDeadline: Duration { frameTimeout.duration }

    public mutating func validate() throws {
        if let n = maxConnections, n < 1 { throw ValidationError("--max-connections must be positive") }
        if let n = maxConnectionsPerIp, n < 1 { throw ValidationError("--max-connections-per-ip must be positive") }
        guard frameTimeout.duration > .zero else { throw ValidationError("--frame-timeout must be positive") }
    }
}
