import Logging
import NIOCore
import NIOSSL
import NIOTLS
import SonicCore
import SonicWire

/// The first byte of a TLS handshake record (a ClientHello or ServerHello); 0x15 starts an alert.
/// A Sonic Share frame starts with the high byte of a length that is never that large.
let tlsHandshakeRecord: UInt8 = 0x16
let tlsAlertRecord: UInt8 = 0x15

/// The first handler of every accepted connection: checks that the client speaks what this
/// server speaks (TLS or plain frames) from its first byte, then steps aside.
///
/// On a mismatch it answers one ERROR frame in clear text (`TLS mismatch`, which a plain
/// client can read and a TLS client recognises as "not TLS"), logs the mismatch, and closes.
/// Nothing is ever downgraded.
final class TransportSniffer: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let serverUsesTLS: Bool
    private let logger: Logger?
    /// Set when the connection was refused.
    private var mismatch: SessionError?

    init(serverUsesTLS: Bool, logger: Logger?) {
        self.serverUsesTLS = serverUsesTLS
        self.logger = logger
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard mismatch == nil else { return }
        let buffer = unwrapInboundIn(data)
        guard let first = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self) else { return }
        if (first == tlsHandshakeRecord) == serverUsesTLS {
            context.fireChannelRead(data)
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
            return
        }
        let mismatch: SessionError = serverUsesTLS ? .clientWithoutTLS : .clientUsesTLS
        self.mismatch = mismatch
        let from = context.channel.remoteAddress.map { "\($0)" } ?? "?"
        logger?.notice("\(mismatch); refused", metadata: ["from": "\(from)"])
        var reply = context.channel.allocator.buffer(capacity: 160)
        reply.writeFrame(.error(ErrorMessage(.tlsMismatch, mismatch.answer)))
        // Close only our sending half: closing the socket with the client's bytes unread could
        // reset the connection and lose the answer. The client closes when it has read it (or
        // the frame deadline does).
        context.writeAndFlush(wrapOutboundOut(reply)).whenComplete { [channel = context.channel] _ in
            channel.close(mode: .output, promise: nil)
        }
    }
}

@available(*, unavailable)
extension TransportSniffer: Sendable {}

/// Client side, before the TLS handler: a server that answers a ClientHello with anything but
/// a TLS record runs without TLS. Says so instead of letting the TLS library report garbage.
final class PlainServerDetector: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    /// The marker error; ``Connector`` turns it into ``SessionError/serverWithoutTLS(_:)``.
    struct ServerWithoutTLS: Error {}

    private var refused = false

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !refused else { return }
        let buffer = unwrapInboundIn(data)
        guard let first = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self) else { return }
        if first == tlsHandshakeRecord || first == tlsAlertRecord {
            context.fireChannelRead(data)
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
            return
        }
        refused = true
        context.fireErrorCaught(ServerWithoutTLS())
        context.close(promise: nil)
    }
}

@available(*, unavailable)
extension PlainServerDetector: Sendable {}

/// After the TLS handler: learns the other side's peer id when the handshake completes (the
/// hash of the public key in the certificate it proved it holds), and fails if the handshake
/// does not complete within `timeout`, fails, or the connection closes first.
///
/// It stays in the pipeline, passing data through, so ``NIOAsyncChannel/transportIdentities()``
/// can find the result at any time.
final class PeerIdentityHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let local: PeerID
    private let timeout: TimeAmount
    private let promise: EventLoopPromise<TransportIdentities>
    private var timer: Scheduled<Void>?
    private var done = false

    var identities: EventLoopFuture<TransportIdentities> { promise.futureResult }

    init(local: PeerID, eventLoop: any EventLoop, timeout: TimeAmount) {
        self.local = local
        self.timeout = timeout
        self.promise = eventLoop.makePromise()
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let bound = NIOLoopBound((handler: self, context: context), eventLoop: context.eventLoop)
        let seconds = Double(timeout.nanoseconds) / 1e9
        timer = context.eventLoop.scheduleTask(in: timeout) {
            bound.value.handler.finish(.failure(SessionError.handshakeTimeout(seconds: seconds)))
            bound.value.context.close(promise: nil)
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let tls = event as? TLSUserEvent, case .handshakeCompleted = tls {
            do {
                let tls = try context.pipeline.syncOperations.handler(type: NIOSSLHandler.self)
                guard let certificate = tls.peerCertificate else { throw SessionError.tlsFailed("no certificate presented") }
                finish(.success(TransportIdentities(local: local, remote: try PeerID(certificate: certificate))))
            } catch {
                finish(.failure(error))
                context.close(promise: nil)
            }
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        finish(.failure(error))
        context.fireErrorCaught(error)
    }

    func channelInactive(context: ChannelHandlerContext) {
        finish(.failure(SessionError.closed))
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        finish(.failure(SessionError.closed))
    }

    private func finish(_ result: Result<TransportIdentities, any Error>) {
        guard !done else { return }
        done = true
        timer?.cancel()
        timer = nil
        promise.completeWith(result)
    }
}

@available(*, unavailable)
extension PeerIdentityHandler: Sendable {}

extension TransportSecurity {
    /// Adds the TLS server handlers (or only the plain-side sniffer) in front of `channel`'s
    /// pipeline. Call on the channel's event loop, before the frame codec is added.
    func addServerHandlers(to channel: any Channel, handshakeTimeout: TimeAmount, logger: Logger?) throws {
        let sync = channel.pipeline.syncOperations
        switch self {
        case .off:
            try sync.addHandler(TransportSniffer(serverUsesTLS: false, logger: logger))
        case .tls(let credentials):
            try sync.addHandler(TransportSniffer(serverUsesTLS: true, logger: logger))
            try sync.addHandler(credentials.makeServerHandler())
            try sync.addHandler(PeerIdentityHandler(local: credentials.identity.peerID, eventLoop: channel.eventLoop,
                                                    timeout: handshakeTimeout))
        }
    }

    /// Adds the TLS client handlers to `channel`'s pipeline (nothing with TLS off); returns
    /// the handshake's outcome.
    func addClientHandlers(to channel: any Channel, handshakeTimeout: TimeAmount) throws
        -> EventLoopFuture<TransportIdentities>? {
        guard case .tls(let credentials) = self else { return nil }
        let sync = channel.pipeline.syncOperations
        try sync.addHandler(PlainServerDetector())
        try sync.addHandler(try credentials.makeClientHandler())
        let identity = PeerIdentityHandler(local: credentials.identity.peerID, eventLoop: channel.eventLoop,
                                           timeout: handshakeTimeout)
        try sync.addHandler(identity)
        return identity.identities
    }
}

extension NIOAsyncChannel where Inbound == Message, Outbound == Message {
    /// Both ends' peer ids once the TLS handshake has completed (waiting for it if needed);
    /// nil on a plain connection.
    public func transportIdentities() async throws -> TransportIdentities? {
        try await transportIdentities(within: nil)
    }

    /// The same, failing with ``SessionError/handshakeTimeout(seconds:)`` if the handshake has
    /// not completed within `limit`.
    func transportIdentities(within limit: TimeAmount?) async throws -> TransportIdentities? {
        let channel = self.channel
        return try await channel.eventLoop.flatSubmit { () -> EventLoopFuture<TransportIdentities?> in
            let identities: EventLoopFuture<TransportIdentities?>
            do {
                identities = try channel.pipeline.syncOperations.handler(type: PeerIdentityHandler.self).identities.map { $0 }
            } catch ChannelPipelineError.notFound {
                return channel.eventLoop.makeSucceededFuture(nil)
            } catch {
                // The connection closed: its handlers are gone, whatever they were.
                return channel.eventLoop.makeFailedFuture(SessionError.closed)
            }
            guard let limit else { return identities }
            let bounded = channel.eventLoop.makePromise(of: TransportIdentities?.self)
            let timer = channel.eventLoop.scheduleTask(in: limit) {
                bounded.fail(SessionError.handshakeTimeout(seconds: Double(limit.nanoseconds) / 1e9))
            }
            identities.whenComplete { result in
                timer.cancel()
                bounded.completeWith(result)
            }
            return bounded.futureResult
        }.get()
    }
}
