import NIOCore
import NIOPosix
import SonicCore

/// Opens client connections that speak frames.
public struct Connector: Sendable {
    public var group: any EventLoopGroup
    /// How long a TCP connect may take before the next index or peer is tried.
    public var connectTimeout: TimeAmount
    /// Read-idle timeout applied to every connection it opens (nil: none).
    public var idleTimeout: TimeAmount?

    public init(group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
                connectTimeout: TimeAmount = .seconds(1), idleTimeout: TimeAmount? = .seconds(30)) {
        self.group = group
        self.connectTimeout = connectTimeout
        self.idleTimeout = idleTimeout
    }

    /// Connects to `endpoint`; `addHandlers` runs on the channel's event loop and may add
    /// message-level handlers after the codec (see ``FrameChannelSetup``).
    public func connect(
        to endpoint: Endpoint,
        addHandlers: @escaping @Sendable (ChannelPipeline.SynchronousOperations) throws -> Void = { _ in }
    ) async throws -> FrameChannel {
        let idle = idleTimeout
        let bootstrap = ClientBootstrap(group: group)
            .connectTimeout(connectTimeout)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
        let initializer: @Sendable (any Channel) -> EventLoopFuture<FrameChannel> = { channel in
            channel.eventLoop.makeCompletedFuture {
                try FrameChannelSetup.configure(channel, idleTimeout: idle, addHandlers: addHandlers)
            }
        }
        do {
            // An address written as an IP needs no resolver and no happy-eyeballs race: connect
            // to it directly (a few milliseconds less for every short conversation).
            if let address = try? SocketAddress(ipAddress: endpoint.host, port: endpoint.port) {
                return try await bootstrap.connect(to: address, channelInitializer: initializer)
            }
            return try await bootstrap.connect(host: endpoint.host, port: endpoint.port, channelInitializer: initializer)
        } catch {
            throw SessionError.connectFailed(endpoint, NetworkErrorText.reason(error))
        }
    }
}
