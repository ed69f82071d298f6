import NIOCore
import SonicNet
import SonicWire

/// Drops a peer connection that owes us data and sends nothing for `timeout`.
///
/// Counts the answers owed: for each OBTAIN-RANGE an END or the request's ERROR; for HELLO
/// and AUTH a CHALLENGE or WELCOME; for MANIFEST? a MANIFEST (or a connection ERROR). While
/// some are owed, a silent connection is stalled and is closed with
/// ``SessionError/idleTimeout(seconds:)``. While none are, silence is fine (the downloader
/// is simply waiting for work), unlike a plain read-idle timeout.
final class StallDetector: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = Message
    typealias InboundOut = Message
    typealias OutboundIn = Message
    typealias OutboundOut = Message

    private let timeout: TimeAmount
    private var outstanding = 0
    private var lastProgress = NIODeadline.now()
    private var timer: RepeatedTask?

    init(timeout: TimeAmount) {
        self.timeout = timeout
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let bound = NIOLoopBound((handler: self, context: context), eventLoop: context.eventLoop)
        let interval = TimeAmount.nanoseconds(max(timeout.nanoseconds / 4, 10_000_000))
        timer = context.eventLoop.scheduleRepeatedTask(initialDelay: interval, delay: interval) { _ in
            bound.value.handler.check(context: bound.value.context)
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let message = unwrapInboundIn(data)
        lastProgress = .now()
        switch message {
        case .end, .error, .welcome, .challenge, .manifest: outstanding = max(0, outstanding - 1)
        default: break
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .obtainRange, .hello, .auth, .manifestRequest:
            if outstanding == 0 { lastProgress = .now() }
            outstanding += 1
        default: break
        }
        context.write(data, promise: promise)
    }

    private func check(context: ChannelHandlerContext) {
        guard outstanding > 0, NIODeadline.now() - lastProgress > timeout else { return }
        timer?.cancel()
        timer = nil
        context.fireErrorCaught(SessionError.idleTimeout(seconds: Double(timeout.nanoseconds) / 1e9))
        context.close(promise: nil)
    }
}

@available(*, unavailable)
extension StallDetector: Sendable {}
