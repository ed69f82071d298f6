import SonicCore
import SonicWire
import Synchronization

/// The index held in this process's memory: the default store.
///
/// Sessions update a ``SessionTable`` under a lock held only for that update; the changes it
/// returns go, in order, to the ``SearchLoop``, which owns the ``SearchIndex`` and answers
/// searches on its own task. A search storm therefore never holds up a registration or a
/// heartbeat.
public final class MemoryIndexStore: IndexStore {
    private let sessions: Mutex<SessionTable>
    private let searchLoop: SearchLoop
    /// Partial holders, with each session's address: looked up by content id only, never
    /// searched by name, so they stay out of the search loop.
    private let partials = Mutex((addresses: [UInt64: Endpoint](), table: PartialHolderTable()))

    public init(limits: IndexLimits) {
        sessions = Mutex(SessionTable(limits: limits))
        searchLoop = SearchLoop(limits: limits)
    }

    /// Sessions and files currently known (this process is the whole index).
    public var localCounts: (sessions: Int, files: Int) {
        sessions.withLock { ($0.sessionCount, $0.fileCount) }
    }

    public func connect(_ session: UInt64, address: Endpoint?) {
        update { $0.connect(session, address: address) }
        if let address { partials.withLock { $0.addresses[session] = address } }
    }

    public func disconnect(_ session: UInt64) {
        update { $0.disconnect(session) }
        partials.withLock {
            $0.addresses[session] = nil
            $0.table.remove(session)
        }
    }

    public func announcePartial(_ session: UInt64, contents: [ContentID]) throws {
        try partials.withLock { state throws(PartialHolderTable.AnnouncementError) in
            try state.table.announce(session, address: state.addresses[session], contents: contents)
        }
    }

    public func partialHolders(of contents: [ContentID], excluding requester: UInt64) -> [ContentID: [Endpoint]] {
        partials.withLock { $0.table.holders(of: contents, excluding: requester) }
    }

    public func register(_ session: UInt64, files: [SharedFile]) throws {
        try sessions.withLock { table throws(SessionTable.RegistrationError) in
            searchLoop.submit(try table.register(session, files: files))
        }
    }

    public func unregister(_ session: UInt64, names: [String]) -> Int {
        update { $0.unregister(session, names: names) }
    }

    public func search(_ request: SearchRequest, excluding requester: UInt64) async -> SearchResults {
        await searchLoop.search(request, excluding: requester)
    }

    public func serve() async {
        await searchLoop.run()
    }

    public func finishServing() {
        searchLoop.finish()
    }

    /// Applies one event to the session table and queues its changes for the search loop,
    /// under the table's lock so that changes reach the loop in the order they happened.
    /// Returns how many changes there were.
    @discardableResult
    private func update(_ event: (inout SessionTable) -> [IndexChange]) -> Int {
        sessions.withLock { table in
            let changes = event(&table)
            searchLoop.submit(changes)
            return changes.count
        }
    }
}
