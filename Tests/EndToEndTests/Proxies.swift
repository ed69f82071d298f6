import Foundation
import NIOCore
import NIOPosix
import SonicCore
@testable import SonicNet
import SonicWire
import Synchronization

/// Forwards TCP bytes between `listen` and `target` unchanged, keeping a copy of every byte
/// that passes either way: what someone capturing the loopback traffic would see.
///
/// With `listenTLS` it accepts TLS with those credentials, with `targetTLS` it opens TLS to the
/// target: the bytes forwarded are then the plain frames inside. That is how hand-made test
/// clients and fake peers, which speak plain frames (``RawClient``, ``FakePeer``), talk to
/// programs running with TLS on, as they do in use (``plainDoor(to:)``). A side that
/// half-closes is half-closed on the other side too, so "a frame cut short by the end of its
/// stream" still reaches the server as such.
///
/// It forwards on NIO's event loops, never on Swift's concurrency pool: the blocking
/// ``RawClient`` calls of a test hold that pool's threads.
final class ForwardingProxy: Sendable {
    let address: Endpoint
    /// The identity it presents to the clients it accepts, with `listenTLS`.
    let identity: PeerIdentity?
    private let channel: any Channel
    private let connections = OpenChannels()
    private let captured = Capture()

    final class Capture: Sendable {
        let bytes = Mutex<[UInt8]>([])
    }

    /// The channels of open connections, closed at ``stop()``.
    final class OpenChannels: Sendable {
        private let channels = Mutex<[ObjectIdentifier: any Channel]>([:])
        func add(_ channel: any Channel) {
            channels.withLock { $0[ObjectIdentifier(channel)] = channel }
            channel.closeFuture.whenComplete { [self] _ in _ = channels.withLock { $0.removeValue(forKey: ObjectIdentifier(channel)) } }
        }
        func all() -> [any Channel] { channels.withLock { Array($0.values) } }
    }

    /// The credentials of the plain-frame side of every door: one identity per test run.
    static let testCredentials = try! TLSCredentials(identity: PeerIdentity.generate())

    /// A man in the middle: accepts TLS with a certificate of its own, opens TLS to `target`
    /// with the same one, and passes every byte inside along both ways unchanged.
    static func manInTheMiddle(listen: Endpoint = Endpoint(host: "127.0.0.1", port: 0), target: Endpoint) async throws
        -> ForwardingProxy {
        let credentials = try TLSCredentials(identity: PeerIdentity.generate())
        return try await ForwardingProxy(listen: listen, target: target, listenTLS: credentials, targetTLS: credentials)
    }

    /// A plain door into the TLS server at `target`, on a port of the OS's choice.
    static func plainDoor(to target: Endpoint) async throws -> ForwardingProxy {
        try await ForwardingProxy(target: target, targetTLS: testCredentials)
    }

    /// A `target` port of 0 means the port the proxy listens on (a program listening on
    /// another loopback address behind it, as in `TLSTests.seederBehind`).
    init(listen: Endpoint = Endpoint(host: "127.0.0.1", port: 0), target: Endpoint,
         listenTLS: TLSCredentials? = nil, targetTLS: TLSCredentials? = nil) async throws {
        identity = listenTLS?.identity
        let (connections, captured) = (self.connections, self.captured)
        let record: @Sendable (ByteBuffer) -> Void = { buffer in
            captured.bytes.withLock { $0 += buffer.readableBytesView }
        }
        channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .childChannelInitializer { client in
                connections.add(client)
                do {
                    if let listenTLS { try client.pipeline.syncOperations.addHandler(listenTLS.makeServerHandler()) }
                } catch {
                    return client.eventLoop.makeFailedFuture(error)
                }
                // The client's bytes are read only once it is glued to the target (the
                // initializer's future holds its registration back until then).
                return ClientBootstrap(group: client.eventLoop)
                    .channelOption(.allowRemoteHalfClosure, value: true)
                    .channelInitializer { server in
                        server.eventLoop.makeCompletedFuture {
                            if let targetTLS {
                                _ = try TransportSecurity.tls(targetTLS).addClientHandlers(to: server, handshakeTimeout: .seconds(30))
                            }
                        }
                    }
                    .connect(host: target.host, port: target.port == 0 ? client.localAddress?.port ?? 0 : target.port)
                    .flatMap { server in
                        connections.add(server)
                        // Glued once the TLS handshake is done: a client's first bytes and its
                        // end of stream then pass as they came.
                        guard targetTLS != nil else { return server.eventLoop.makeSucceededFuture(server) }
                        return server.pipeline.handler(type: PeerIdentityHandler.self)
                            .flatMap { $0.identities }
                            .map { _ in server }
                    }
                    .flatMap { server in
                        server.eventLoop.makeCompletedFuture {
                            let (a, b) = GlueHandler.pair(record: record)
                            try client.pipeline.syncOperations.addHandler(a)
                            try server.pipeline.syncOperations.addHandler(b)
                        }
                    }
            }
            .bind(host: listen.host, port: listen.port).get()
        address = Endpoint(host: listen.host, port: channel.localAddress?.port ?? listen.port)
    }

    /// Every byte that passed so far, both directions.
    var bytes: [UInt8] { captured.bytes.withLock { $0 } }

    func stop() async {
        try? await channel.close()
        for open in connections.all() { try? await open.close() }
    }
}

/// One half of two glued channels on one event loop (swift-nio's connect-proxy example): what
/// one reads, the other writes, reads pause while the other cannot write, the end of one's
/// input half-closes the other's output, and a close closes both.
final class GlueHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private var partner: GlueHandler?
    private var context: ChannelHandlerContext?
    private var pendingRead = false
    private let record: @Sendable (ByteBuffer) -> Void

    private init(record: @escaping @Sendable (ByteBuffer) -> Void) {
        self.record = record
    }

    static func pair(record: @escaping @Sendable (ByteBuffer) -> Void) -> (GlueHandler, GlueHandler) {
        let (a, b) = (GlueHandler(record: record), GlueHandler(record: record))
        a.partner = b
        b.partner = a
        return (a, b)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        partner = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let bytes = unwrapInboundIn(data)
        record(bytes)
        partner?.partnerWrite(bytes)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        partner?.partnerFlush()
    }

    func channelInactive(context: ChannelHandlerContext) {
        partner?.partnerClose()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, case .inputClosed = event {
            partner?.partnerHalfClose()
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        partner?.partnerClose()
        context.close(promise: nil)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { partner?.partnerBecameWritable() }
    }

    func read(context: ChannelHandlerContext) {
        if partner?.context?.channel.isWritable ?? false {
            context.read()
        } else {
            pendingRead = true
        }
    }

    private func partnerWrite(_ bytes: ByteBuffer) {
        context?.write(wrapOutboundOut(bytes), promise: nil)
    }

    private func partnerFlush() {
        context?.flush()
    }

    // Both flush first: what the other side sent just before its end still goes out.
    private func partnerHalfClose() {
        context?.flush()
        context?.close(mode: .output, promise: nil)
    }

    private func partnerClose() {
        context?.flush()
        context?.close(promise: nil)
    }

    private func partnerBecameWritable() {
        if pendingRead, let context {
            pendingRead = false
            context.read()
        }
    }
}

@available(*, unavailable)
extension GlueHandler: Sendable {}
