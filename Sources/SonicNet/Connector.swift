import NIOCore
import NIOPosix
import SonicCore

/// Opens client connections that speak frames, over TLS unless the transport is off.
public struct Connector: Sendable {
    public var group: any EventLoopGroup
    /// How long a TCP connect may take before the next index or peer is tried; the TLS
    /// handshake gets twice as long, and at least ten seconds.
    public var connectTimeout: TimeAmount
    /// Read-idle timeout applied to every connection it opens (nil: none).
    public var idleTimeout: TimeAmount?
    /// TLS with our identity, or plain TCP (`--tls off`).
    public var transport: TransportSecurity

    public init(group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
                connectTimeout: TimeAmount = .seconds(1), idleTimeout: TimeAmount? = .seconds(30),
                transport: TransportSecurity = .off) {
        self.group = group
        self.connectTimeout = connectTimeout
        self.idleTimeout = idleTimeout
        self.transport = transport
    }

    /// Connects to `endpoint`; `addHandlers` runs on the channel's event loop and may add
    /// message-level handlers after the codec (see ``FrameChannelSetup``).
    ///
    /// With TLS, returns only once the handshake has completed; with `expecting`, only if the
    /// other side's certificate is for that peer id (``SessionError/identityMismatch(_:expected:presented:)``
    /// otherwise, before a single frame is sent).
    public func connect(
        to endpoint: Endpoint,
        expecting expected: PeerID? = nil,
        addHandlers: @escaping @Sendable (ChannelPipeline.SynchronousOperations) throws -> Void = { _ in }
    ) async throws -> FrameChannel {
        let idle = idleTimeout
        let transport = transport
        // A backstop only: the idle timeout, which handshake records reset, is what passes over
        // a silent server; a loaded one may take seconds to answer a handshake, step by step.
        let handshakeTimeout = max(connectTimeout * 2, .seconds(10))
        let bootstrap = ClientBootstrap(group: group)
            .connectTimeout(connectTimeout)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
        let initializer: @Sendable (any Channel) -> EventLoopFuture<(FrameChannel, EventLoopFuture<TransportIdentities>?)> = {
            channel in
            channel.eventLoop.makeCompletedFuture {
                var handshake: EventLoopFuture<TransportIdentities>?
                let frames = try FrameChannelSetup.configure(channel, idleTimeout: idle, addTransport: { _ in
                    handshake = try transport.addClientHandlers(to: channel, handshakeTimeout: handshakeTimeout)
                }, addHandlers: addHandlers)
                return (frames, handshake)
            }
        }
        let channel: FrameChannel
        let handshake: EventLoopFuture<TransportIdentities>?
        do {
            // An address written as an IP needs no resolver and no happy-eyeballs race: connect
            // to it directly (a few milliseconds less for every short conversation).
            if let address = try? SocketAddress(ipAddress: endpoint.host, port: endpoint.port) {
                (channel, handshake) = try await bootstrap.connect(to: address, channelInitializer: initializer)
            } else {
                (channel, handshake) = try await bootstrap.connect(host: endpoint.host, port: endpoint.port,
                                                                   channelInitializer: initializer)
            }
        } catch {
            throw SessionError.connectFailed(endpoint, NetworkErrorText.reason(error))
        }
        guard let handshake else { return channel }
        do {
            let identities = try await handshake.get()
            if let expected, identities.remote != expected {
                throw SessionError.identityMismatch(endpoint, expected: expected, presented: identities.remote)
            }
            return channel
        } catch {
            // Through the async wrapper, so its writer is finished before it goes away.
            try? await channel.executeThenClose { _, _ in }
            throw Self.handshakeError(error, endpoint: endpoint)
        }
    }

    /// A failed TLS handshake, in the terms of ``SessionError``.
    static func handshakeError(_ error: any Error, endpoint: Endpoint) -> any Error {
        switch error {
        case is PlainServerDetector.ServerWithoutTLS: SessionError.serverWithoutTLS(endpoint)
        case let session as SessionError: session
        default: SessionError.tlsFailed(NetworkErrorText.reason(error))
        }
    }
}
