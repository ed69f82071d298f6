import NIOCore
import Synchronization

/// The connections a listener has wrapped for async use and not yet handed to a handler.
///
/// Every wrapped connection must end in `executeThenClose`: NIO traps when the writer of one is
/// dropped unfinished (swift-nio issue 2637). A connection accepted in the instant a listener
/// stops is exactly that: it sits in NIO's buffers, or in an initializer still running, out of
/// the accepting loop's reach. So each is recorded here from the moment it is wrapped until the
/// loop takes it; at stop, wrapping ends and the listener closes whatever was never taken.
final class AcceptedConnections: Sendable {
    private struct State {
        var stopped = false
        var waiting: [ObjectIdentifier: FrameChannel] = [:]
    }

    private let state = Mutex(State())

    struct Stopped: Error {}

    /// Wraps a new connection with `wrap` and records it, or throws ``Stopped`` (NIO then
    /// closes the socket) once the listener has stopped. Runs in the child's initializer.
    func admit(_ wrap: () throws -> FrameChannel) throws -> FrameChannel {
        guard !state.withLock({ $0.stopped }) else { throw Stopped() }
        let connection = try wrap()
        let recorded = state.withLock { state in
            guard !state.stopped else { return false }
            state.waiting[ObjectIdentifier(connection.channel)] = connection
            return true
        }
        guard recorded else {
            // Stopped while wrapping: nobody will take it, so finish it here.
            Task { try? await connection.executeThenClose { _, _ in } }
            throw Stopped()
        }
        return connection
    }

    /// Takes `connection` for a handler; false when ``stop()`` has taken it to close it.
    func take(_ connection: FrameChannel) -> Bool {
        state.withLock { $0.waiting.removeValue(forKey: ObjectIdentifier(connection.channel)) != nil }
    }

    /// Ends admission and returns the connections never taken; the caller closes them.
    func stop() -> [FrameChannel] {
        state.withLock { state in
            state.stopped = true
            defer { state.waiting.removeAll() }
            return Array(state.waiting.values)
        }
    }
}
