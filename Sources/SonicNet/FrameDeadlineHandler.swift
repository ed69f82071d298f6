import NIOCore

/// Closes a connection whose frame takes longer than `timeout` to arrive in full, counting from
/// its first byte; the connection's own start counts as the start of its first frame.
///
/// This is what stops slow-loris clients (one byte every few seconds keeps a plain read-idle
/// timer happy forever) and half-open connections that never say HELLO. It sits before the
/// frame decoder and only follows frame boundaries (the 4-byte length of each header); the
/// decoder still checks every frame.
///
/// Its timer runs only while a frame is incomplete: a frame that arrives in one read (most
/// do) never starts it, and an idle connection between frames has none. An index holds
/// thousands of idle sessions; a timer each would wake the loop thousands of times a second
/// and keep a scheduled task per session.
final class FrameDeadlineHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let timeout: TimeAmount
    /// When the frame in progress began; nil between frames.
    private var frameStart: NIODeadline?
    /// The header bytes of the frame in progress seen so far, and how many there are.
    private var header: UInt64 = 0
    private var headerCount = 0
    private var payloadRemaining = 0
    private var timer: RepeatedTask?

    init(timeout: TimeAmount) {
        self.timeout = timeout
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { start(context: context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        start(context: context)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
    }

    /// The connection's start counts as the start of its first frame (HELLO).
    private func start(context: ChannelHandlerContext) {
        guard timer == nil else { return }
        frameStart = .now()
        startTimer(context: context)
    }

    private func startTimer(context: ChannelHandlerContext) {
        guard timer == nil else { return }
        let bound = NIOLoopBound((handler: self, context: context), eventLoop: context.eventLoop)
        let interval = TimeAmount.nanoseconds(max(timeout.nanoseconds / 4, 10_000_000))
        timer = context.eventLoop.scheduleRepeatedTask(initialDelay: interval, delay: interval) { _ in
            bound.value.handler.check(context: bound.value.context)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        follow(buffer.readableBytesView)
        if frameStart == nil {
            timer?.cancel()
            timer = nil
        } else {
            startTimer(context: context)
        }
        context.fireChannelRead(data)
    }

    /// Advances the frame-boundary state over `bytes`.
    private func follow(_ bytes: ByteBufferView) {
        var index = bytes.startIndex
        while index < bytes.endIndex {
            if payloadRemaining > 0 {
                let take = min(payloadRemaining, bytes.endIndex - index)
                payloadRemaining -= take
                index += take
                if payloadRemaining == 0 { frameStart = nil }
                continue
            }
            if headerCount == 0 && frameStart == nil { frameStart = .now() }
            header = header << 8 | UInt64(bytes[index])
            headerCount += 1
            index += 1
            if headerCount == 5 {
                payloadRemaining = Int(header >> 8 & 0xFFFF_FFFF)  // the length; the low byte is the kind
                header = 0
                headerCount = 0
                if payloadRemaining == 0 { frameStart = nil }
            }
        }
    }

    private func check(context: ChannelHandlerContext) {
        guard let started = frameStart, NIODeadline.now() - started > timeout else { return }
        timer?.cancel()
        timer = nil
        frameStart = nil
        context.fireErrorCaught(SessionError.frameTimeout(seconds: Double(timeout.nanoseconds) / 1e9))
        // Let the conversation send ERROR first; close anyway if nobody does within a second.
        let channel = context.channel
        context.eventLoop.scheduleTask(in: .seconds(1)) { channel.close(promise: nil) }
    }
}

@available(*, unavailable)
extension FrameDeadlineHandler: Sendable {}
