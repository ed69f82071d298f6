import Synchronization

/// How many requests stream at once (docs/ARCHITECTURE.md, "Serving while downloading"):
/// a piece sent to a few peers at a time arrives sooner than one sent to everybody at once,
/// and a downloader can pass on only what it has whole. A request waits for a slot in
/// arrival order, but never longer than the bound it is given: then it streams anyway, so
/// no downloader waits on a busy peer long enough to take it for a stalled one.
final class UploadSlots: Sendable {
    private struct Waiter {
        var id: UInt64
        var resume: CheckedContinuation<Bool, Never>
        /// Gives up at the bound; cancelled when the waiter gets a slot first.
        var timer: Task<Void, Never>
    }

    private struct State {
        var free: Int
        var waiters: [Waiter] = []
        var nextWaiter: UInt64 = 0
        /// Waiters between taking a number and joining the queue, and those of them that gave
        /// up (cancelled, or timed out) in that instant: they must not join.
        var arriving: Set<UInt64> = []
        var gaveUpArriving: Set<UInt64> = []
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
            s.arriving.insert(s.nextWaiter)
            return s.nextWaiter
        }
        guard let id else { return true }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (resume: CheckedContinuation<Bool, Never>) in
                let timer = Task {
                    guard (try? await Task.sleep(for: bound)) != nil else { return }
                    self.giveUp(id)
                }
                let joined = state.withLock { s in
                    s.arriving.remove(id)
                    if s.gaveUpArriving.remove(id) != nil { return false }
                    s.waiters.append(Waiter(id: id, resume: resume, timer: timer))
                    return true
                }
                if !joined {
                    timer.cancel()
                    resume.resume(returning: false)
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
        let next = state.withLock { s -> Waiter? in
            guard !s.waiters.isEmpty else {
                s.free += 1
                return nil
            }
            return s.waiters.removeFirst()
        }
        guard let next else { return }
        next.timer.cancel()
        next.resume.resume(returning: true)
    }

    /// The waiter `id` stops waiting, if it still is.
    private func giveUp(_ id: UInt64) {
        let waiter = state.withLock { s -> Waiter? in
            if s.arriving.contains(id) {
                s.gaveUpArriving.insert(id)
                return nil
            }
            guard let index = s.waiters.firstIndex(where: { $0.id == id }) else { return nil }
            return s.waiters.remove(at: index)
        }
        guard let waiter else { return }
        waiter.timer.cancel()
        waiter.resume.resume(returning: false)
    }
}
