import NIOCore
import PostgresNIO
import SonicCore
import SonicIndex
import SonicWire

extension PostgresIndexStore {
    /// Most words of a keyword query that become conditions; the rest are ignored. A query
    /// frame is small (docs/PROTOCOL.md, "Limits"), and each word is one trigram lookup.
    static let maximumQueryWords = 16

    /// The memory store's answer, from one statement (one snapshot of the database):
    /// the matching files grouped by content id, groups ordered by their first matching name
    /// (UTF-8 bytes) then content id, the page cut in the database, and for the page's groups
    /// every matching name and live peer.
    public func search(_ request: SearchRequest, excluding requester: UInt64) async throws -> SearchResults {
        let process = try await processID.value()
        let limit = min(Int(request.limit), configuration.limits.maximumResultsPerPage)
        var match = SearchCondition(request, process: process, requester: requester)
        let pageLimit = match.bind(Int64(limit)), pageOffset = match.bind(Int64(request.offset))
        let sql = """
            WITH page AS (
                SELECT f.content_id, min(f.name) AS first_name, count(*) OVER () AS total
                FROM sonic_files f
                WHERE \(match.sql)
                GROUP BY f.content_id
                ORDER BY first_name, f.content_id
                LIMIT \(pageLimit) OFFSET \(pageOffset)
            )
            SELECT p.total, p.content_id, f.name, f.size, f.file_hash, s.host, s.port
            FROM page p
            JOIN sonic_files f ON f.content_id = p.content_id
            JOIN sonic_sessions s ON s.process = f.process AND s.session = f.session
            WHERE \(match.sql)
            ORDER BY p.first_name, p.content_id
            """
        let rows = try await client.query(PostgresQuery(unsafeSQL: sql, binds: match.binds), logger: logger)
        var total: Int64?
        var groups = ResultGroups()
        for try await (count, contentID, name, size, fileHash, host, port)
            in rows.decode((Int64, ByteBuffer, String, Int64, ByteBuffer, String?, Int32?).self) {
            total = count
            try groups.add(contentID: contentID, name: name, size: size, fileHash: fileHash,
                           address: host.flatMap { h in port.map { Endpoint(host: h, port: Int($0)) } })
        }
        var matched = total ?? 0
        if total == nil && request.offset > 0 {
            matched = try await countGroups(request, process: process, requester: requester)
        }
        return SearchResults(total: UInt32(clamping: matched), results: groups.page())
    }

    /// How many groups match in all: asked only when the page came back empty past the end.
    private func countGroups(_ request: SearchRequest, process: Int64, requester: UInt64) async throws -> Int64 {
        let match = SearchCondition(request, process: process, requester: requester)
        let sql = "SELECT count(DISTINCT f.content_id) FROM sonic_files f WHERE \(match.sql)"
        let rows = try await client.query(PostgresQuery(unsafeSQL: sql, binds: match.binds), logger: logger)
        for try await count in rows.decode(Int64.self) { return count }
        return 0
    }
}

/// The WHERE condition on `sonic_files f` for a request: its placeholders (`$1`…) numbered
/// here and its values bound, never written into the SQL text.
struct SearchCondition {
    private(set) var binds = PostgresBindings()
    private(set) var sql = ""

    init(_ request: SearchRequest, process: Int64, requester: UInt64) {
        var conditions = ["NOT (f.process = \(bind(process)) AND f.session = \(bind(Int64(bitPattern: requester))))"]
        switch request.mode {
        case .exact:
            let query = bind(request.query)
            conditions.append("(f.name = \(query) OR f.base_name = \(query))")
        case .keyword:
            // No word (a blank query) leaves no condition: everything matches.
            for word in SearchText.words(of: request.query).prefix(PostgresIndexStore.maximumQueryWords) {
                conditions.append("f.folded LIKE \(bind(Self.likePattern(containing: word)))")
            }
        }
        sql = conditions.joined(separator: " AND ")
    }

    /// Binds `value` and returns its placeholder.
    mutating func bind<Value: PostgresDynamicTypeEncodable>(_ value: Value) -> String {
        binds.append(value)
        return "$\(binds.count)"
    }

    /// `%word%`, with LIKE's own characters in the word escaped (backslash is the default escape).
    static func likePattern(containing word: [UInt8]) -> String {
        var pattern = "%"
        for scalar in String(decoding: word, as: UTF8.self).unicodeScalars {
            if scalar == "%" || scalar == "_" || scalar == "\\" { pattern.unicodeScalars.append("\\") }
            pattern.unicodeScalars.append(scalar)
        }
        return pattern + "%"
    }
}

/// Rows of the search statement gathered into result groups, in the order they arrive.
struct ResultGroups {
    private struct Group {
        var contentID: ContentID
        var size: UInt64
        var fileHash: SHA256Hash
        var names = Set<String>()
        var peers = Set<Endpoint>()
    }

    private var groups: [Group] = []

    mutating func add(contentID: ByteBuffer, name: String, size: Int64, fileHash: ByteBuffer, address: Endpoint?) throws {
        guard let id = SHA256Hash(bytes: contentID.readableBytesView), let hash = SHA256Hash(bytes: fileHash.readableBytesView)
        else { throw PostgresStoreError("a stored content id or file hash is not 32 bytes") }
        if groups.last?.contentID.hash != id {
            groups.append(Group(contentID: ContentID(id), size: UInt64(max(size, 0)), fileHash: hash))
        }
        groups[groups.count - 1].names.insert(name)
        if let address { groups[groups.count - 1].peers.insert(address) }
    }

    /// The groups as results, sorted and capped as the memory store's, and no more than one
    /// SEARCH-RESULTS frame holds.
    func page() -> [SearchResult] {
        var page: [SearchResult] = []
        var budget = WireSize.resultsPageBudget
        for group in groups {
            let names = group.names.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
            let peers = group.peers.sorted { ($0.host, $0.port) < ($1.host, $1.port) }
            let result = SearchResult(
                contentID: group.contentID, size: group.size, fileHash: group.fileHash,
                names: Array(names.prefix(WireLimits.maximumPeersPerResult)),
                peers: Array(peers.prefix(WireLimits.maximumPeersPerResult)))
            let size = result.encodedLength
            guard size <= budget else { break }
            budget -= size
            page.append(result)
        }
        return page
    }
}
