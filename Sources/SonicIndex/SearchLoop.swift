import CSystemShims
import SonicWire
import Synchronization

/// Where searches run: one task that owns the ``SearchIndex`` and handles, in arrival order,
/// the changes registrations produce and the searches clients send.
///
/// Registrations, unregistrations and heartbeats never wait for it: they update the small
/// ``SessionTable`` under its lock, queue the resulting changes here and answer at once.
/// A search queued after a change sees it, so a client that searches after a seeder's OK
/// finds the seeder's files. At most one search runs at a time, which leaves the other
/// threads to the sessions however many clients search (docs/ARCHITECTURE.md, "The index").
final class SearchLoop: Sendable {
    private enum Event: Sendable {
        case changes([IndexChange])
        case search(SearchRequest, requester: UInt64, answer: CheckedContinuation<SearchResults, Never>)
    }

    /// Changes freed in a burst are handed back to the system once this many have been
    /// applied and nothing more is queued (``run()``).
    static let changesBeforeTrim = 65_536

    private let limits: IndexLimits
    /// Changes submitted and not yet applied.
    private let queued = Atomic<Int>(0)
    private let events: AsyncStream<Event>
    private let inbox: AsyncStream<Event>.Continuation

    init(limits: IndexLimits) {
        self.limits = limits
        (events, inbox) = AsyncStream.makeStream()
    }

    /// Queues changes; call in the order ``SessionTable`` returned them (under its lock).
    func submit(_ changes: [IndexChange]) {
        guard !changes.isEmpty else { return }
        queued.add(changes.count, ordering: .relaxed)
        inbox.yield(.changes(changes))
    }

    /// The answer to `request`, once every change queued before it is applied.
    func search(_ request: SearchRequest, excluding requester: UInt64) async -> SearchResults {
        await withCheckedContinuation { answer in
            if case .terminated = inbox.yield(.search(request, requester: requester, answer: answer)) {
                answer.resume(returning: SearchResults(total: 0, results: []))
            }
        }
    }

    /// Ends ``run()`` once everything queued so far is handled.
    func finish() {
        inbox.finish()
    }

    func run() async {
        var index = SearchIndex(limits: limits)
        var appliedSinceTrim = 0
        for await event in events {
            switch event {
            case .changes(let changes):
                index.apply(changes)
                appliedSinceTrim += changes.count
                // A burst of registrations leaves its decoded frames and queued changes freed
                // between the index's long-lived allocations, where malloc keeps them: give the
                // free pages back once the burst is absorbed (about 100 MiB at a million files).
                // Trimming walks the whole heap, so it waits for as many changes as there are
                // files: its cost stays proportional to the changes, even mid-burst.
                if queued.subtract(changes.count, ordering: .relaxed).newValue == 0
                    && appliedSinceTrim >= max(Self.changesBeforeTrim, index.fileCount) {
                    appliedSinceTrim = 0
                    trimFreedMemory()
                }
            case .search(let request, let requester, let answer):
                answer.resume(returning: index.search(request, excluding: requester))
            }
        }
    }
}

/// glibc's `malloc_trim(0)` (through CSystemShims: Swift's Glibc module does not export it).
private func trimFreedMemory() { _ = sonic_release_free_memory() }
