import NIOCore
import SonicWire

/// A TCP connection that speaks Sonic Share frames, as an async sequence of messages in and
/// a writer of messages out.
public typealias FrameChannel = NIOAsyncChannel<Message, Message>

public enum FrameChannelSetup {
    /// Adds the frame codec (and, with `idleTimeout`, a read-idle timeout) to `channel` and wraps
    /// it for async use; `addTransport` adds the TLS handlers between the idle timer and the codec. `addHandlers` may add message-level handlers after the codec. Call on the channel's event loop, inside the bootstrap's initializer;
    /// both servers and clients build their connections through here.
    public static func configure(
        _ channel: any Channel,
        idleTimeout: TimeAmount? = nil,
        idleCountsWrites: Bool = false,
        frameTimeout: TimeAmount? = nil,
        addTransport: (ChannelPipeline.SynchronousOperations) throws -> Void = { _ in },
        addHandlers: (ChannelPipeline.SynchronousOperations) throws -> Void = { _ in }
    ) throws -> FrameChannel {
        let sync = channel.pipeline.syncOperations
        if let idleTimeout {
            // A server that is busy sending (a long piece to a slow downloader) is not idle.
            try sync.addHandler(idleCountsWrites ? IdleStateHandler(allTimeout: idleTimeout)
                                                 : IdleStateHandler(readTimeout: idleTimeout))
            try sync.addHandler(IdleTimeoutHandler(timeout: idleTimeout))
        }
        // TLS goes after the idle timer, so that handshake records count as traffic: the
        // handshake has its own deadline, and a slow one does not eat a conversation's budget.
        try addTransport(sync)
        if let frameTimeout {
            try sync.addHandler(FrameDeadlineHandler(timeout: frameTimeout))
        }
        try sync.addHandler(ByteToMessageHandler(FrameDecoder()))
        try sync.addHandler(MessageToByteHandler(FrameEncoder()))
        try addHandlers(sync)
        return try FrameChannel(
            wrappingChannelSynchronously: channel,
            configuration: .init(inboundType: Message.self, outboundType: Message.self)
        )
    }
}

/// Turns a read-idle event into an error on the inbound stream, then closes the connection:
/// a peer that goes quiet for longer than the timeout (half-open, stalled, slow-loris) is dropped.
final class IdleTimeoutHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let timeout: TimeAmount

    init(timeout: TimeAmount) {
        self.timeout = timeout
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let idle = event as? IdleStateHandler.IdleStateEvent, idle == .read || idle == .all {
            context.fireErrorCaught(SessionError.idleTimeout(seconds: Double(timeout.nanoseconds) / 1e9))
            // Let the conversation send ERROR first; close anyway if nobody does within a second.
            let channel = context.channel
            context.eventLoop.scheduleTask(in: .seconds(1)) { channel.close(promise: nil) }
            return
        }
        context.fireUserInboundEventTriggered(event)
    }
}

@available(*, unavailable)
extension IdleTimeoutHandler: Sendable {}
