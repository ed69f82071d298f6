import NIOCore
import PostgresNIO
import SonicCore
import SonicIndex
import SonicWire
import Synchronization

extension PostgresIndexStore {
    /// Rows per INSERT: one statement binds seven arrays of this many elements.
    static let rowsPerStatement = 10_000

    public func register(_ session: UInt64, files: [SharedFile]) async throws {
        let process = try await processID.value()
        // Checked and recorded under the memory store's rules first; undone if the database fails.
        let added: [String] = try sessions.withLock { table throws(SessionTable.RegistrationError) in
            let new = files.map(\.name).filter { table.slot(of: NameKey($0), in: session) == nil }
            _ = try table.register(session, files: files)
            return new
        }
        do {
            try await insert(Self.lastOfEachName(files), process: process, session: session)
        } catch {
            _ = sessions.withLock { $0.unregister(session, names: added) }
            throw error
        }
    }

    public func unregister(_ session: UInt64, names: [String]) async throws -> Int {
        let process = try await processID.value()
        let removed = sessions.withLock { $0.unregister(session, names: names) }.count
        guard removed > 0 else { return 0 }
        try await client.query(
            "DELETE FROM sonic_files WHERE process = \(process) AND session = \(Int64(bitPattern: session)) AND name = ANY(\(names))",
            logger: logger)
        return removed
    }

    /// One statement per ``rowsPerStatement`` files, all in one transaction (all or nothing):
    /// arrays of columns unnested into rows, replacing a name the session already shares.
    private func insert(_ files: [SharedFile], process: Int64, session: UInt64) async throws {
        guard !files.isEmpty else { return }
        try await client.withTransaction(logger: logger) { connection in
            for start in stride(from: 0, to: files.count, by: Self.rowsPerStatement) {
                let batch = FileColumns(files[start..<min(start + Self.rowsPerStatement, files.count)])
                try await connection.query(
                    """
                    INSERT INTO sonic_files (process, session, name, base_name, folded, size, content_id, file_hash)
                    SELECT \(process), \(Int64(bitPattern: session)), f.name, f.base_name, f.folded, f.size, f.content_id, f.file_hash
                    FROM unnest(\(batch.names)::text[], \(batch.baseNames)::text[], \(batch.folded)::text[],
                                \(batch.sizes)::int8[], \(batch.contentIDs)::bytea[], \(batch.fileHashes)::bytea[])
                         AS f (name, base_name, folded, size, content_id, file_hash)
                    ON CONFLICT (process, session, name) DO UPDATE SET
                        base_name = EXCLUDED.base_name, folded = EXCLUDED.folded, size = EXCLUDED.size,
                        content_id = EXCLUDED.content_id, file_hash = EXCLUDED.file_hash
                    """, logger: logger)
            }
        }
    }

    /// The files with each name's last occurrence only: one INSERT … ON CONFLICT may not touch
    /// a row twice, and a later file replaces an earlier one of the same name, as in the
    /// memory store.
    static func lastOfEachName(_ files: [SharedFile]) -> [SharedFile] {
        var seen = Set<String>()
        var kept: [SharedFile] = []
        kept.reserveCapacity(files.count)
        for file in files.reversed() where seen.insert(file.name).inserted { kept.append(file) }
        return kept.reversed()
    }
}

/// Files as the column arrays that one batched INSERT unnests.
struct FileColumns {
    var names: [String] = []
    var baseNames: [String] = []
    var folded: [String] = []
    var sizes: [Int64] = []
    var contentIDs: [ByteBuffer] = []
    var fileHashes: [ByteBuffer] = []

    init(_ files: some Collection<SharedFile>) {
        for file in files {
            names.append(file.name)
            baseNames.append(SharedName.baseName(file.name))
            folded.append(String(decoding: SearchText.fold(file.name), as: UTF8.self))
            sizes.append(Int64(clamping: file.size))
            contentIDs.append(ByteBuffer(bytes: file.contentID.hash.bytes))
            fileHashes.append(ByteBuffer(bytes: file.fileHash.bytes))
        }
    }
}
