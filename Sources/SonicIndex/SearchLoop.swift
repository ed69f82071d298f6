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
        /// A rebuild started from a snapshot is done (``run()``).
        case rebuilt(SearchIndex)
        /// ``quietBeforeTrim`` has passed since the loop had applied `applied` changes in all.
        case quietCheck(applied: Int)
    }

    /// How long no change may arrive before the freed memory of the changes applied since the
    /// last trim is handed back (``run()``).
    static let quietBeforeTrim = Duration.milliseconds(200)

    /// Changes freed in a burst are handed back to the system once this many have been
    /// applied and nothing more is queued, or ``quietBeforeTrim`` after the burst (``run()``).
    static let changesBeforeTrim = 65_536

    private let limits: IndexLimits
    private let deadNamesBeforeRebuild: Int?
    /// Changes submitted and not yet applied.
    private let queued = Atomic<Int>(0)
    private let completedRebuilds = Atomic<Int>(0)
    private let events: AsyncStream<Event>
    private let inbox: AsyncStream<Event>.Continuation

    /// `deadNamesBeforeRebuild` overrides ``SearchIndex/deadNamesBeforeRebuild`` (tests).
    init(limits: IndexLimits, deadNamesBeforeRebuild: Int? = nil) {
        self.limits = limits
        self.deadNamesBeforeRebuild = deadNamesBeforeRebuild
        (events, inbox) = AsyncStream.makeStream()
    }

    /// Rebuilds of the index swapped in so far (tests and logs).
    var rebuilds: Int { completedRebuilds.load(ordering: .relaxed) }

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

    /// Handles events until ``finish()``.
    ///
    /// When names nobody shares come to outnumber the live ones (a mass departure), the index
    /// is rebuilt from a snapshot on a child task while this loop goes on serving from the
    /// old one, which is complete, only larger; the changes applied meanwhile are kept and
    /// replayed on the rebuilt index before it takes over (slots are the same in both). At a
    /// million files a rebuild takes seconds: done in line, every search would wait for it.
    func run() async {
        await withDiscardingTaskGroup { group in
            var index = SearchIndex(limits: limits)
            index.rebuildsWhenApplying = false
            if let deadNamesBeforeRebuild { index.deadNamesBeforeRebuild = deadNamesBeforeRebuild }
            var appliedSinceTrim = 0, applied = 0
            var quietCheckPending = false
            /// Changes applied since the snapshot being rebuilt; nil when no rebuild runs.
            var sinceSnapshot: [[IndexChange]]?
            func checkForQuiet() {
                quietCheckPending = true
                group.addTask { [inbox, applied] in
                    try? await Task.sleep(for: Self.quietBeforeTrim)
                    inbox.yield(.quietCheck(applied: applied))
                }
            }
            for await event in events {
                switch event {
                case .changes(let changes):
                    index.apply(changes)
                    sinceSnapshot?.append(changes)
                    appliedSinceTrim += changes.count
                    applied += changes.count
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
                    // And once a burst has been over for a moment, whatever its size: a burst that
                    // ends between two of those trims would otherwise keep its garbage for good.
                    if appliedSinceTrim >= Self.changesBeforeTrim && !quietCheckPending { checkForQuiet() }
                    if sinceSnapshot == nil && index.wantsRebuild {
                        sinceSnapshot = []
                        let snapshot = index
                        group.addTask { [inbox] in inbox.yield(.rebuilt(snapshot.rebuilt())) }
                    }
                case .rebuilt(var fresh):
                    for changes in sinceSnapshot ?? [] { fresh.apply(changes) }
                    sinceSnapshot = nil
                    index = fresh
                    completedRebuilds.add(1, ordering: .relaxed)
                    trimFreedMemory()
                case .quietCheck(let appliedThen):
                    quietCheckPending = false
                    if applied == appliedThen {
                        appliedSinceTrim = 0
                        trimFreedMemory()
                    } else if appliedSinceTrim >= Self.changesBeforeTrim {
                        checkForQuiet()
                    }
                case .search(let request, let requester, let answer):
                    answer.resume(returning: index.search(request, excluding: requester))
                }
            }
        }
    }
}

/// glibc's `malloc_trim(0)` (through CSystemShims: Swift's Glibc module does not export it).
private func trimFreedMemory() { _ = sonic_release_free_memory() }
