import Foundation
import Synchronization

/// One server-sent event: a type and a JSON payload.
public struct WebEvent: Sendable {
    public var type: String
    public var json: String

    init(type: String, json: String) {
        self.type = type
        self.json = json
    }

    init(type: String, _ value: some Encodable) {
        self.type = type
        self.json = (try? String(decoding: Self.encoder.encode(value), as: UTF8.self)) ?? "{}"
    }

    private static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return e
    }()

    /// The `text/event-stream` form.
    var text: String { "event: \(type)\ndata: \(json)\n\n" }
}

/// Fans events out to every open event stream. A subscriber that falls behind loses the
/// oldest events, never blocks the publisher; all streams end on shutdown.
public final class EventHub: Sendable {
    private struct State {
        var next = 0
        var subscribers: [Int: AsyncStream<WebEvent>.Continuation] = [:]
        var closed = false
    }

    private let state = Mutex(State())
    /// Most subscribers at once (each is an open HTTP connection too).
    let maximumSubscribers: Int

    public init(maximumSubscribers: Int = 32) {
        self.maximumSubscribers = maximumSubscribers
    }

    public func publish(_ event: WebEvent) {
        let targets = state.withLock { Array($0.subscribers.values) }
        for c in targets { c.yield(event) }
    }

    /// A new stream, or nil when there are too many or the hub is closed.
    func subscribe() -> AsyncStream<WebEvent>? {
        let (stream, continuation) = AsyncStream.makeStream(of: WebEvent.self, bufferingPolicy: .bufferingNewest(256))
        let id: Int? = state.withLock { s in
            guard !s.closed, s.subscribers.count < maximumSubscribers else { return nil }
            s.next += 1
            s.subscribers[s.next] = continuation
            return s.next
        }
        guard let id else { return nil }
        continuation.onTermination = { [weak self] _ in
            _ = self?.state.withLock { $0.subscribers.removeValue(forKey: id) }
        }
        return stream
    }

    var subscriberCount: Int { state.withLock { $0.subscribers.count } }

    /// Ends every stream (graceful shutdown: an open event stream must not hold the server).
    public func close() {
        let all = state.withLock { s in
            s.closed = true
            return Array(s.subscribers.values)
        }
        for c in all { c.finish() }
    }
}
