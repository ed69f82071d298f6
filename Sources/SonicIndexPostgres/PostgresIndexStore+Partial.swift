import NIOCore
import PostgresNIO
import SonicCore
import SonicIndex
import SonicWire
import Synchronization

extension PostgresIndexStore {
    /// Replaces the session's rows in `sonic_partial_holdings` in one transaction. The rows
    /// hang off the session's row, so they go with it (a disconnect, an expired process).
    public func announcePartial(_ session: UInt64, contents: [ContentID]) async throws {
        let process = try await processID.value()
        let hasAddress = sessionsWithRows.withLock { $0.contains(session) }
        guard let wanted = try PartialHolderTable.validated(contents, hasAddress: hasAddress) else { return }
        let sessionID = Int64(bitPattern: session)
        let ids = wanted.map { ByteBuffer(bytes: $0.hash.bytes) }
        try await client.withTransaction(logger: logger) { connection in
            try await connection.query(
                "DELETE FROM sonic_partial_holdings WHERE process = \(process) AND session = \(sessionID)", logger: logger)
            guard !ids.isEmpty else { return }
            try await connection.query(
                """
                INSERT INTO sonic_partial_holdings (process, session, content_id)
                SELECT \(process), \(sessionID), c FROM unnest(\(ids)::bytea[]) AS c
                """, logger: logger)
        }
    }

    public func partialHolders(of contents: [ContentID], excluding requester: UInt64) async throws -> [ContentID: [Endpoint]] {
        guard !contents.isEmpty else { return [:] }
        let process = try await processID.value()
        let ids = contents.map { ByteBuffer(bytes: $0.hash.bytes) }
        let rows = try await client.query(
            """
            SELECT p.content_id, s.host, s.port
            FROM sonic_partial_holdings p
            JOIN sonic_sessions s ON s.process = p.process AND s.session = p.session
            WHERE p.content_id = ANY(\(ids)::bytea[])
              AND NOT (p.process = \(process) AND p.session = \(Int64(bitPattern: requester)))
              AND s.host IS NOT NULL AND s.port IS NOT NULL
            ORDER BY p.content_id, p.announced
            """, logger: logger)
        var found: [ContentID: [Endpoint]] = [:]
        var listed: Set<Endpoint> = []
        var current: ContentID?
        // Rows come grouped by content id, holders in announcement order.
        for try await (contentID, host, port) in rows.decode((ByteBuffer, String, Int32).self) {
            guard let hash = SHA256Hash(bytes: contentID.readableBytesView) else {
                throw PostgresStoreError("a stored content id is not 32 bytes")
            }
            let id = ContentID(hash)
            if id != current { (current, listed) = (id, []) }
            let address = Endpoint(host: host, port: Int(port))
            guard listed.count < WireLimits.maximumPeersPerResult, listed.insert(address).inserted else { continue }
            found[id, default: []].append(address)
        }
        return found
    }
}
