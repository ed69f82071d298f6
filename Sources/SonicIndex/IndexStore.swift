import SonicCore
import SonicWire

/// Where an ``IndexServer`` keeps who shares what and answers searches from. The server
/// drives every session through these calls and does not care which store it has:
/// ``MemoryIndexStore`` (the default, one process) or the PostgreSQL store that lets many
/// index processes share one database (docs/ARCHITECTURE.md, "The index").
///
/// Session ids are this process's own; a store that is shared between processes tells them
/// apart itself. Every registration is soft state: it lives only as long as its session.
public protocol IndexStore: Sendable {
    /// A session said HELLO; peers reach it at `address` (nil: it serves nothing).
    func connect(_ session: UInt64, address: Endpoint?) async throws

    /// Sessions and files of this process (not of other processes sharing the store): the
    /// web status and the logs.
    var localCounts: (sessions: Int, files: Int) { get }

    /// Forgets the session and everything it shared. Never fails: a store that cannot reach
    /// its backing storage leaves the rows to expire with this process's liveness.
    func disconnect(_ session: UInt64) async

    /// Adds or replaces (same name) the session's files, all or nothing. Throws
    /// ``SessionTable/RegistrationError`` when the registration is refused, any other error
    /// when the store itself failed.
    func register(_ session: UInt64, files: [SharedFile]) async throws

    /// Removes the named files of this session only; names it does not share are ignored.
    /// Returns how many were removed.
    func unregister(_ session: UInt64, names: [String]) async throws -> Int

    /// Replaces the set of contents the session holds in part (swarm feature). Throws
    /// ``PartialHolderTable/AnnouncementError`` when refused, any other error when the store
    /// itself failed.
    func announcePartial(_ session: UInt64, contents: [ContentID]) async throws

    /// The partial holders of each of `contents` (those announced by any session but
    /// `requester`), for the search answers of swarm sessions.
    func partialHolders(of contents: [ContentID], excluding requester: UInt64) async throws -> [ContentID: [Endpoint]]

    /// One page of result groups (docs/PROTOCOL.md, "Search"), leaving out `requester`'s files.
    func search(_ request: SearchRequest, excluding requester: UInt64) async throws -> SearchResults

    /// Records the peer id a serving session proved in its TLS handshake, for index
    /// processes that share the store: this process's server keeps its own sessions' ids.
    func recordPeerID(_ peerID: PeerID, of session: UInt64) async throws

    /// Whether other index processes share this store (and so ``peerIDs(at:)`` can know
    /// more than this process's own sessions).
    var isShared: Bool { get }

    /// The peer ids proved by sessions of *other* index processes sharing the store, by the
    /// address they serve at (docs/PROTOCOL.md, RESULTS section 2).
    func peerIDs(at addresses: Set<Endpoint>) async throws -> [Endpoint: PeerID]

    /// Work the store does beside the server while it serves (the memory store's search
    /// loop). Returns once ``finishServing()`` was called and what was queued is done; a store
    /// with no such work returns at once.
    func serve() async

    /// Called once every session has ended.
    func finishServing()
}

extension IndexStore {
    /// A store of one process has nothing to share: the server's own table is complete.
    public var isShared: Bool { false }

    public func recordPeerID(_ peerID: PeerID, of session: UInt64) async throws {}

    public func peerIDs(at addresses: Set<Endpoint>) async throws -> [Endpoint: PeerID] { [:] }
}
