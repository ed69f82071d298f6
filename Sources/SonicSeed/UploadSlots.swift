import Synchronization

/// How many requests stream at once (docs/ARCHITECTURE.md, "Serving while downloading"):
/// a piece sent to a few peers at a time arrives sooner than one sent to everybody at once,
/// and a downloader can pass on only what it has whole. A request waits for a slot in
/// arrival order, but never longer than the bound it is given: then it streams anyway, so
/// no downloader waits on a busy peer long enough to take it for a stalled one.
final class UploadSlots: Sendable {
    private struct State {
        var free: Int
        var waiters: [(id: UInt64, resume: CheckedContinuation<Bool, Never>)] = []
        var nextWaiter: UInt64 = 0
    }

    private let state: Mutex<State>

    init(count: Int) {
        precondition(count > 0)
        state = Mutex(State(free: count))
    }

    /// Waits for a slot at most `bound`. True: a slot is held (call ``release()``); false:
    /// none came in time (or the task was cancelled), and the caller goes on without one.
    func acquire(within bound: Duration) async -> Bool {
        let id: UInt64? = state.withLock { s in
            if s.free > 0 {
                s.free -= 1
                return nil
            }
            s.nextWaiter += 1
            return s.nextWaiter
        }
        guard let id else { return true }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (resume: CheckedContinuation<Bool, Never>) in
                state.withLock { $0.waiters.append((id, resume)) }
                Task {
                    try? await Task.sleep(for: bound)
                    self.giveUp(id)
                }
            }
        } onCancel: {
            giveUp(id)
        }
    }

    /// Requests waiting for a slot now.
    var waiting: Int { state.withLock { $0.waiters.count } }

    /// Frees a slot: the longest waiter gets it.
    func release() {
        let next = state.withLock { s -> CheckedContinuation<Bool, Never>? in
            guard !s.waiters.isEmpty else {
                s.free += 1
                return nil
            }
            return s.waiters.removeFirst().resume
        }
        next?.resume(returning: true)
    }

    /// The waiter `id` stops waiting, if it still is.
    private func giveUp(_ id: UInt64) {
        let waiter = state.withLock { s -> CheckedContinuation<Bool, Never>? in
            guard let index = s.waiters.firstIndex(where: { $0.id == id }) else { return nil }
            return s.waiters.remove(at: index).resume
        }
        waiter?.resume(returning: false)
    }
}
