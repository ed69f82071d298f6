import SonicCore
import SonicWire

/// What the index knows: for each live session, the address peers reach it at and the files
/// it shares. A pure value: the server feeds it events and sends what it returns.
///
/// Searching is by exact name (the whole relative name or its last component, case-sensitive,
/// through a hash index) or by keywords (every word of the query appears in the name,
/// case-insensitive, by a scan). Results are grouped by content id, so each group lists every
/// peer that can serve exactly those bytes.
public struct IndexRegistry: Sendable {
    public typealias SessionID = UInt64

    public struct Limits: Sendable {
        /// Files one session may register in all.
        public var maximumFilesPerSession: Int
        /// Result groups per page at most (a request may ask for fewer).
        public var maximumResultsPerPage: Int

        public init(maximumFilesPerSession: Int = 100_000, maximumResultsPerPage: Int = Int(WireLimits.defaultSearchResults)) {
            self.maximumFilesPerSession = maximumFilesPerSession
            self.maximumResultsPerPage = min(maximumResultsPerPage, WireLimits.maximumResultsPerFrame)
        }
    }

    private struct Session: Sendable {
        /// Where other peers reach this one: observed IP + announced port. Nil for a session that
        /// serves nothing (a plain client); such a session cannot register files.
        var address: Endpoint?
        var files: [String: SharedFile] = [:]
    }

    private struct EntryKey: Hashable, Sendable {
        var session: SessionID
        var name: String
    }

    private struct Entry: Sendable {
        var file: SharedFile
        /// The lowercased name's UTF-8, for keyword matching by byte search.
        var lowercasedName: [UInt8]
    }

    public let limits: Limits
    private var sessions: [SessionID: Session] = [:]
    private var entries: [EntryKey: Entry] = [:]
    /// Full name and last path component → entries, for exact search.
    private var exactIndex: [String: Set<EntryKey>] = [:]

    public init(limits: Limits = Limits()) {
        self.limits = limits
    }

    public var sessionCount: Int { sessions.count }
    public var fileCount: Int { entries.count }

    public func files(of session: SessionID) -> [SharedFile] {
        sessions[session].map { Array($0.files.values).sorted { $0.name < $1.name } } ?? []
    }

    // MARK: Session life

    public mutating func connect(_ session: SessionID, address: Endpoint?) {
        disconnect(session)
        sessions[session] = Session(address: address)
    }

    /// Forgets the session and everything it shared.
    public mutating func disconnect(_ session: SessionID) {
        guard let s = sessions.removeValue(forKey: session) else { return }
        for name in s.files.keys { removeEntry(EntryKey(session: session, name: name)) }
    }

    // MARK: Registration

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

    /// Adds or replaces (same name) the session's files. All or nothing.
    public mutating func register(_ session: SessionID, files: [SharedFile]) throws(RegistrationError) {
        guard let s = sessions[session] else { throw .unknownSession }
        guard s.address != nil else { throw .noAddress }
        if let bad = files.first(where: { !SharedName.isSafe($0.name) }) { throw .unsafeName(bad.name) }
        let added = Set(files.map(\.name)).subtracting(s.files.keys).count
        guard s.files.count + added <= limits.maximumFilesPerSession else {
            throw .tooManyFiles(limit: limits.maximumFilesPerSession)
        }
        for file in files {
            let key = EntryKey(session: session, name: file.name)
            removeEntry(key)
            entries[key] = Entry(file: file, lowercasedName: Array(file.name.lowercased().utf8))
            exactIndex[file.name, default: []].insert(key)
            let base = SharedName.baseName(file.name)
            if base != file.name { exactIndex[base, default: []].insert(key) }
            sessions[session]!.files[file.name] = file
        }
    }

    /// Removes the named files of this session only; names it does not share are ignored.
    /// Returns how many were removed.
    @discardableResult
    public mutating func unregister(_ session: SessionID, names: [String]) -> Int {
        guard sessions[session] != nil else { return 0 }
        var removed = 0
        for name in names where sessions[session]!.files.removeValue(forKey: name) != nil {
            removeEntry(EntryKey(session: session, name: name))
            removed += 1
        }
        return removed
    }

    private mutating func removeEntry(_ key: EntryKey) {
        guard entries.removeValue(forKey: key) != nil else { return }
        for indexKey in Set([key.name, SharedName.baseName(key.name)]) {
            exactIndex[indexKey]?.remove(key)
            if exactIndex[indexKey]?.isEmpty == true { exactIndex[indexKey] = nil }
        }
    }

    // MARK: Search

    /// The page of result groups for `request`, leaving out the files of `requester`.
    ///
    /// Matching compares bytes (a keyword is a byte substring of the lowercased UTF-8 name),
    /// groups are ordered by their first name's UTF-8 bytes then content id, and only the
    /// groups on the requested page get their names and peers sorted and de-duplicated:
    /// a query matching 10 000 groups costs little more than the scan.
    public func search(_ request: SearchRequest, excluding requester: SessionID? = nil) -> SearchResults {
        var groups: [ContentID: GroupBuilder] = [:]

        func add(_ key: EntryKey, _ entry: Entry) {
            guard key.session != requester, let address = sessions[key.session]?.address else { return }
            groups[entry.file.contentID, default: GroupBuilder(file: entry.file)].add(name: entry.file.name, peer: address)
        }

        switch request.mode {
        case .exact:
            for key in exactIndex[request.query] ?? [] {
                if let entry = entries[key] { add(key, entry) }
            }
        case .keyword:
            let words = request.query.lowercased().split(whereSeparator: \.isWhitespace).map { Array($0.utf8) }
            for (key, entry) in entries where words.allSatisfy({ Self.contains(entry.lowercasedName, $0) }) {
                add(key, entry)
            }
        }

        let ordered = groups.values.sorted {
            $0.firstName.utf8.lexicographicallyPrecedes($1.firstName.utf8)
                || ($0.firstName == $1.firstName && $0.file.contentID < $1.file.contentID)
        }
        let limit = min(Int(request.limit), limits.maximumResultsPerPage)
        let start = min(Int(request.offset), ordered.count)
        var page: [SearchResult] = []
        var budget = WireLimits.maximumPayload(for: .searchResults) - WireSize.resultsHeader
        for group in ordered[start...].prefix(limit) {
            let result = group.result()
            let size = result.encodedLength
            guard size <= budget else { break }
            budget -= size
            page.append(result)
        }
        return SearchResults(total: UInt32(ordered.count), results: page)
    }

    /// True when `needle` occurs in `haystack` (bytes).
    private static func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
        guard !needle.isEmpty else { return true }
        guard needle.count <= haystack.count else { return false }
        return haystack.withUnsafeBufferPointer { h in
            needle.withUnsafeBufferPointer { n in
                let first = n[0]
                var i = 0
                while i <= h.count - n.count {
                    if h[i] == first {
                        var j = 1
                        while j < n.count && h[i + j] == n[j] { j += 1 }
                        if j == n.count { return true }
                    }
                    i += 1
                }
                return false
            }
        }
    }
}

/// One content's matches, gathered cheaply during the scan and finished only if it is on
/// the page being returned.
private struct GroupBuilder {
    let file: SharedFile
    var firstName: String
    var names: [String] = []
    var peers: [Endpoint] = []

    init(file: SharedFile) {
        self.file = file
        self.firstName = file.name
    }

    mutating func add(name: String, peer: Endpoint) {
        if name.utf8.lexicographicallyPrecedes(firstName.utf8) { firstName = name }
        names.append(name)
        peers.append(peer)
    }

    func result() -> SearchResult {
        let sortedNames = Array(Set(names)).sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        let sortedPeers = Array(Set(peers)).sorted { ($0.host, $0.port) < ($1.host, $1.port) }
        return SearchResult(
            contentID: file.contentID, size: file.size, fileHash: file.fileHash,
            names: Array(sortedNames.prefix(WireLimits.maximumPeersPerResult)),
            peers: Array(sortedPeers.prefix(WireLimits.maximumPeersPerResult)))
    }
}
