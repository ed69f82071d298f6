import SonicCore
import SonicWire

/// Limits the index enforces (docs/PROTOCOL.md, "Limits").
public struct IndexLimits: Sendable {
    /// Files one session may register in all.
    public var maximumFilesPerSession: Int
    /// Result groups per page at most (a request may ask for fewer).
    public var maximumResultsPerPage: Int

    public init(maximumFilesPerSession: Int = 100_000, maximumResultsPerPage: Int = Int(WireLimits.defaultSearchResults)) {
        self.maximumFilesPerSession = maximumFilesPerSession
        self.maximumResultsPerPage = min(maximumResultsPerPage, WireLimits.maximumResultsPerFrame)
    }
}

/// Who is connected and which names each session shares: the part of the index that
/// registrations, unregistrations and disconnections need, and nothing a search needs.
/// A pure value. Each event returns the ``IndexChange``s for ``SearchIndex`` to apply.
///
/// It gives every shared file a *slot* number, reused once the file is gone, which is how
/// the search side finds the file again to remove it.
public struct SessionTable: Sendable {
    public enum RegistrationError: Error, Equatable, CustomStringConvertible {
        case unknownSession
        case noAddress
        case unsafeName(String)
        case tooManyFiles(limit: Int)

        public var description: String {
            switch self {
            case .unknownSession: "unknown session"
            case .noAddress: "announce a listening port in HELLO before registering files"
            case .unsafeName(let n): "refused unsafe name \"\(TerminalText.escaped(n))\""
            case .tooManyFiles(let limit): "a peer may register at most \(limit) files"
            }
        }
    }

    private struct Session: Sendable {
        /// Where other peers reach this one: observed IP + announced port. Nil for a session
        /// that serves nothing (a plain client); such a session cannot register files.
        var address: Endpoint?
        /// Name → slot of every file it shares.
        var files = SessionFiles()
    }

    public let limits: IndexLimits
    private var sessions: [UInt64: Session] = [:]
    private var freeSlots: [UInt32] = []
    private var nextSlot: UInt32 = 0
    public private(set) var fileCount = 0

    public init(limits: IndexLimits = IndexLimits()) {
        self.limits = limits
    }

    public var sessionCount: Int { sessions.count }

    /// The slots of a session's files (in no particular order).
    public func slots(of session: UInt64) -> [UInt32] {
        sessions[session]?.files.allSlots ?? []
    }

    /// The slot of the file the session shares under `name`, if it does.
    public func slot(of name: NameKey, in session: UInt64) -> UInt32? {
        sessions[session]?.files.slot(of: name)
    }

    public mutating func connect(_ session: UInt64, address: Endpoint?) -> [IndexChange] {
        var changes = disconnect(session)
        sessions[session] = Session(address: address)
        changes.append(.connect(session: session, address: address))
        return changes
    }

    /// Forgets the session and everything it shared.
    public mutating func disconnect(_ session: UInt64) -> [IndexChange] {
        guard let s = sessions.removeValue(forKey: session) else { return [] }
        let slots = s.files.allSlots
        var changes = slots.map { IndexChange.remove(slot: $0) }
        freeSlots += slots
        fileCount -= slots.count
        changes.append(.disconnect(session: session))
        return changes
    }

    /// Adds or replaces (same name) the session's files. All or nothing.
    public mutating func register(_ session: UInt64, files: [SharedFile]) throws(RegistrationError) -> [IndexChange] {
        guard let s = sessions[session] else { throw .unknownSession }
        guard s.address != nil else { throw .noAddress }
        if let bad = files.first(where: { !SharedName.isSafe($0.name) }) { throw .unsafeName(bad.name) }
        let keys = files.map { NameKey($0.name) }
        let added = Set(keys).count { s.files.slot(of: $0) == nil }
        guard s.files.count + added <= limits.maximumFilesPerSession else {
            throw .tooManyFiles(limit: limits.maximumFilesPerSession)
        }
        var changes: [IndexChange] = []
        changes.reserveCapacity(files.count)
        for (file, key) in zip(files, keys) {
            let slot: UInt32
            if let existing = sessions[session]!.files.slot(of: key) {
                slot = existing  // replacing: the search side drops what the slot held
            } else {
                slot = freeSlots.popLast() ?? { defer { nextSlot += 1 }; return nextSlot }()
                sessions[session]!.files.insert(key, slot: slot)
                fileCount += 1
            }
            changes.append(.add(slot: slot, session: session, file: file))
        }
        return changes
    }

    /// Removes the named files of this session only; names it does not share are ignored.
    public mutating func unregister(_ session: UInt64, names: [String]) -> [IndexChange] {
        guard sessions[session] != nil else { return [] }
        var changes: [IndexChange] = []
        for name in names {
            guard let slot = sessions[session]!.files.remove(NameKey(name)) else { continue }
            changes.append(.remove(slot: slot))
            freeSlots.append(slot)
            fileCount -= 1
        }
        return changes
    }
}

/// A shared name as the session table keys it: 128 bits of two differently seeded `String`
/// hashes, instead of the `String` itself. The search side stores every name once in its
/// own arena; keeping the `String`s here too would cost a heap object per file.
///
/// The hashes are Swift's `Hasher` (SipHash, seeded at random per process), so names that
/// `String` calls equal (canonically equivalent spellings) get the same key, and a peer
/// cannot choose names that collide: two distinct names share a key with probability
/// about 2⁻¹²⁸.
public struct NameKey: Hashable, Sendable {
    private let high: UInt64, low: UInt64

    /// A key no name has in practice: what ``SessionFiles``'s empty buckets hold.
    static let zero = NameKey(high: 0, low: 0)

    private init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    /// Where ``SessionFiles`` places the key: its bits are already a hash.
    var bucket: Int { Int(truncatingIfNeeded: low) }

    public init(_ name: String) {
        var first = Hasher(), second = Hasher()
        first.combine(0 as UInt8)
        first.combine(name)
        second.combine(1 as UInt8)
        second.combine(name)
        high = UInt64(UInt(bitPattern: first.finalize()))
        low = UInt64(UInt(bitPattern: second.finalize()))
    }
}
