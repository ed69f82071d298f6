import SonicCore
import SonicWire

/// What the index knows, as one pure value: a ``SessionTable`` (who shares what) and a
/// ``SearchIndex`` (how to find it), kept in step by applying every change at once. The
/// server keeps the two halves apart so that searches never wait for registrations or the
/// reverse (docs/ARCHITECTURE.md, "The index"); tests and micro-benchmarks use this whole.
///
/// Searching is by exact name (the whole relative name or its last component,
/// case-sensitive) or by keywords (every word of the query occurs in the name, ignoring case
/// and accents; ``SearchText``). Results are grouped by content id, so each group lists every
/// peer that can serve exactly those bytes.
public struct IndexRegistry: Sendable {
    public typealias SessionID = UInt64
    public typealias Limits = IndexLimits
    public typealias RegistrationError = SessionTable.RegistrationError

    public private(set) var sessions: SessionTable
    public private(set) var searchIndex: SearchIndex

    public init(limits: Limits = Limits()) {
        sessions = SessionTable(limits: limits)
        searchIndex = SearchIndex(limits: limits)
    }

    public var limits: Limits { sessions.limits }
    public var sessionCount: Int { sessions.sessionCount }
    public var fileCount: Int { sessions.fileCount }

    public func files(of session: SessionID) -> [SharedFile] {
        sessions.slots(of: session).compactMap { searchIndex.file(in: $0) }.sorted { $0.name < $1.name }
    }

    public mutating func connect(_ session: SessionID, address: Endpoint?) {
        searchIndex.apply(sessions.connect(session, address: address))
    }

    /// Forgets the session and everything it shared.
    public mutating func disconnect(_ session: SessionID) {
        searchIndex.apply(sessions.disconnect(session))
    }

    /// Adds or replaces (same name) the session's files. All or nothing.
    public mutating func register(_ session: SessionID, files: [SharedFile]) throws(RegistrationError) {
        searchIndex.apply(try sessions.register(session, files: files))
    }

    /// Removes the named files of this session only; names it does not share are ignored.
    /// Returns how many were removed.
    @discardableResult
    public mutating func unregister(_ session: SessionID, names: [String]) -> Int {
        let changes = sessions.unregister(session, names: names)
        searchIndex.apply(changes)
        return changes.count
    }

    public func search(_ request: SearchRequest, excluding requester: SessionID? = nil) -> SearchResults {
        searchIndex.search(request, excluding: requester)
    }
}
