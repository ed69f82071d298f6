import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import SonicCore
import SonicWire

/// A bound TCP listener whose accepted connections speak frames.
///
/// Binding is separate from serving so the caller can print the real bound address
/// (`--port 0`) before the first connection is accepted.
public struct ServerListener: Sendable {
    public let channel: NIOAsyncChannel<FrameChannel, Never>
    /// The address actually bound (the OS's choice of port with `--port 0`).
    public let boundAddress: Endpoint
    public let limiter: ConnectionLimiter
    private let accepted: AcceptedConnections

    /// Where a server listens and the protections it applies to every connection
    /// (docs/SECURITY.md); the index and the peer server each start from their own defaults.
    public struct Settings: Sendable {
        public var host: String
        public var port: Int
        /// Close a connection that sends nothing for this long.
        public var idleTimeout: Duration
        /// Whether sending counts as activity (peer servers) or only receiving does (the index,
        /// where silence means missed heartbeats).
        public var idleCountsWrites: Bool
        /// Close a connection whose frame (or first frame) takes longer than this to arrive.
        public var frameTimeout: Duration
        public var connections: ConnectionLimiter.Limits
        /// The members-only network secret, if any.
        public var secret: NetworkSecret?
        /// Bytes read from a connection at a time, in a buffer of this size; nil: NIO's adaptive
        /// default (2 KiB, doubling after reads that fill it, up to 64 KiB). Each connection keeps
        /// its receive buffer for its whole life at the largest size it reached: a server of many
        /// mostly idle connections (the index) fixes it small; a frame larger than the buffer
        /// arrives in several reads.
        public var receiveBufferBytes: Int?
        /// TLS with our identity (clients must use TLS too), or plain TCP (`--tls off`).
        public var transport: TransportSecurity

        public init(host: String, port: Int, idleTimeout: Duration, idleCountsWrites: Bool = false,
                    frameTimeout: Duration = .seconds(10), connections: ConnectionLimiter.Limits,
                    secret: NetworkSecret? = nil, receiveBufferBytes: Int? = nil, transport: TransportSecurity = .off) {
            self.host = host
            self.port = port
            self.idleTimeout = idleTimeout
            self.idleCountsWrites = idleCountsWrites
            self.frameTimeout = frameTimeout
            self.connections = connections
            self.secret = secret
            self.receiveBufferBytes = receiveBufferBytes
            self.transport = transport
        }
    }

    /// `logger` hears of connections refused before any conversation (a client on the other
    /// side of `--tls on|off`).
    public static func bind(
        _ settings: Settings, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton, logger: Logger? = nil
    ) async throws -> ServerListener {
        let (host, port) = (settings.host, settings.port)
        let idleTimeout = TimeAmount(settings.idleTimeout)
        let frameTimeout = TimeAmount(settings.frameTimeout)
        let countsWrites = settings.idleCountsWrites
        let transport = settings.transport
        let accepted = AcceptedConnections()
        let channel: NIOAsyncChannel<NIOAsyncChannel<Message, Message>, Never>
        do {
            var bootstrap = ServerBootstrap(group: group)
            if let bytes = settings.receiveBufferBytes {
                bootstrap = bootstrap.childChannelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: bytes))
            }
            bootstrap = bootstrap
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .serverChannelOption(.backlog, value: 256)
                .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
                // Keep our sending half open when a client closes its own: a frame cut short by the
                // end of its stream still gets an ERROR back before we close.
                .childChannelOption(.allowRemoteHalfClosure, value: true)
            let initializer: @Sendable (any Channel) -> EventLoopFuture<FrameChannel> = { child in
                child.eventLoop.makeCompletedFuture {
                    // The TLS handshake has as long as a frame: it is the connection's first exchange.
                    try accepted.admit {
                        try transport.addServerHandlers(to: child, handshakeTimeout: frameTimeout, logger: logger)
                        return try FrameChannelSetup.configure(child, idleTimeout: idleTimeout, idleCountsWrites: countsWrites,
                                                               frameTimeout: frameTimeout)
                    }
                }
            }
            // An address written as an IP is bound without the resolver (getaddrinfo reads the
            // name-service configuration: a millisecond of every sonic-get's start).
            if let address = try? SocketAddress(ipAddress: host, port: port) {
                channel = try await bootstrap.bind(to: address, childChannelInitializer: initializer)
            } else {
                channel = try await bootstrap.bind(host: host, port: port, childChannelInitializer: initializer)
            }
        } catch {
            let inUse = (error as? IOError)?.errnoCode == EADDRINUSE
            throw ListenFailed(host: host, port: port, reason: NetworkErrorText.reason(error), addressInUse: inUse)
        }
        let local = channel.channel.localAddress
        let bound = Endpoint(host: local?.ipAddress ?? host, port: local?.port ?? port)
        return ServerListener(channel: channel, boundAddress: bound, limiter: ConnectionLimiter(settings.connections),
                              accepted: accepted)
    }

    /// ``serve(_:)`` until a graceful shutdown (SIGINT/SIGTERM through the service group)
    /// cancels it; open connections are cancelled with it, and that is a clean stop.
    public func serveUntilShutdown(_ handle: @escaping @Sendable (FrameChannel) async -> Void) async throws {
        do {
            try await cancelWhenGracefulShutdown { try await serve(handle) }
        } catch is CancellationError {
            return
        }
    }

    /// Connections are served from this many task groups in turn. Swift's runtime finds a
    /// finished child task by walking its group's list of children, so one group holding an
    /// index's 10 000 sessions made every disconnect cost 10 000 steps under the group's lock
    /// (docs/PERFORMANCE.md, "Sessions leaving").
    public static let lanes = 32

    /// Accepts connections until the listener is closed or the task is cancelled, running
    /// `handle` for each in its own child task. `handle` must not throw: one connection's
    /// failure never takes the server down.
    ///
    /// Cancellation closes the listening socket and cancels the open connections; connections
    /// accepted but never handed to `handle` are closed before this returns.
    public func serve(_ handle: @escaping @Sendable (FrameChannel) async -> Void) async throws {
        let (channel, limiter, accepted) = (self.channel, self.limiter, self.accepted)
        do {
            try await withTaskCancellationHandler {
                try await withThrowingDiscardingTaskGroup { group in
                    let lanes = (0..<Self.lanes).map { _ in AsyncStream<FrameChannel>.makeStream() }
                    for (connections, _) in lanes {
                        group.addTask { await Self.serve(connections, accepted: accepted, limiter: limiter, handle: handle) }
                    }
                    // A lane ends once it has handed out what it was given and its connections ended.
                    defer { for (_, lane) in lanes { lane.finish() } }
                    try await channel.executeThenClose { inbound in
                        var next = 0
                        for try await connection in inbound {
                            lanes[next].continuation.yield(connection)
                            next = (next + 1) % lanes.count
                        }
                    }
                }
            } onCancel: {
                channel.channel.close(promise: nil)
            }
        } catch {
            await Self.closeUntaken(accepted)
            throw error
        }
        await Self.closeUntaken(accepted)
    }

    /// One lane: a task per connection it is given. A connection still queued when the lane is
    /// cancelled is never taken, and ``closeUntaken(_:)`` closes it.
    private static func serve(_ connections: AsyncStream<FrameChannel>, accepted: AcceptedConnections,
                              limiter: ConnectionLimiter, handle: @escaping @Sendable (FrameChannel) async -> Void) async {
        await withDiscardingTaskGroup { group in
            for await connection in connections where accepted.take(connection) {
                group.addTask {
                    let ip = connection.remoteIP ?? "?"
                    if let refusal = limiter.admit(ip) {
                        await refuse(connection, refusal)
                        return
                    }
                    defer { limiter.release(ip) }
                    await handle(connection)
                }
            }
        }
    }

    private static func closeUntaken(_ accepted: AcceptedConnections) async {
        await withDiscardingTaskGroup { group in
            for connection in accepted.stop() {
                group.addTask { try? await connection.executeThenClose { _, _ in } }
            }
        }
    }
}

extension ServerListener {
    /// Tells an over-limit connection why, and closes it. Over TLS the ERROR waits for the
    /// handshake (written before it completes, it would be dropped with the connection), but
    /// at most a second: a refused connection must not hold its socket for long.
    static func refuse(_ connection: FrameChannel, _ reason: String) async {
        try? await connection.executeThenClose { _, outbound in
            _ = try await connection.transportIdentities(within: .seconds(1))
            try await outbound.write(.error(ErrorMessage(.busy, reason)))
        }
    }
}

extension FrameChannel {
    /// The remote peer's IP address as text, if known.
    public var remoteIP: String? { channel.remoteAddress?.ipAddress }

    /// `IP:PORT` of the remote end, for logs.
    public var remoteDescription: String {
        guard let address = channel.remoteAddress, let ip = address.ipAddress else { return "?" }
        return Endpoint(host: ip, port: address.port ?? 0).description
    }
}
