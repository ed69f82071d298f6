import UnixSignals

/// Runs `body`, cancelling it if SIGINT or SIGTERM arrives first. Returns the signal that
/// stopped it (nil if `body` finished on its own). The body sees ordinary task cancellation,
/// so it can save its state (a resume record) on the way out.
public func runCancellingOnSignal<T: Sendable>(
    _ body: @escaping @Sendable () async throws -> T
) async throws -> (result: T?, signal: UnixSignal?) {
    try await withThrowingTaskGroup(of: (T?, UnixSignal?).self) { group in
        // The traps are set up beside the body rather than before it: that takes half a
        // millisecond (a dispatch queue and its thread), which a 4 KiB download would otherwise
        // wait for. A signal in that first moment ends the program as one before its start does.
        group.addTask {
            let signals = await UnixSignalsSequence(trapping: [.sigint, .sigterm])
            for await signal in signals { return (nil, signal) }
            return (nil, nil)
        }
        group.addTask { (try await body(), nil) }
        var outcome: (T?, UnixSignal?) = (nil, nil)
        do {
            if let first = try await group.next() { outcome = first }
        } catch {
            group.cancelAll()
            throw error
        }
        group.cancelAll()
        if outcome.1 != nil {
            // Let the body finish its cancellation path (it may save state) before returning.
            while let _ = try? await group.next() {}
        }
        return (outcome.0, outcome.1)
    }
}
