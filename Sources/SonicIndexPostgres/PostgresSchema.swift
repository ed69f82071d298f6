import Logging
import PostgresNIO

/// The tables the PostgreSQL store keeps, created if missing by whichever index process
/// starts first (under an advisory lock, so that two starting at once do not race).
///
/// ```
/// sonic_index_processes  one row per live index process, its heartbeat refreshed
///   └─ sonic_sessions    one row per peer session, owned by the process it is connected to
///        ├─ sonic_files  one row per shared file of that session
///        └─ sonic_partial_holdings  one row per content it downloads and serves in part
/// ```
///
/// Deleting a process row cascades to its sessions and their files: that is how a crashed
/// process's registrations expire. Names, base names and folded names are `COLLATE "C"`, so
/// comparing and ordering them is by UTF-8 bytes, as in the memory store. `folded` is the
/// name folded in Swift by ``SearchText`` (the memory store's folding), under a `pg_trgm`
/// GIN index that answers `LIKE '%word%'` without scanning.
enum PostgresSchema {
    /// The advisory lock key held while creating the tables ("sonic" in ASCII).
    static let lockKey = 0x736F_6E69_63

    static let statements: [PostgresQuery] = [
        "CREATE EXTENSION IF NOT EXISTS pg_trgm",
        """
        CREATE TABLE IF NOT EXISTS sonic_index_processes (
            id bigserial PRIMARY KEY,
            label text NOT NULL,
            started timestamptz NOT NULL DEFAULT now(),
            heartbeat timestamptz NOT NULL DEFAULT now()
        )
        """,
        """
        CREATE TABLE IF NOT EXISTS sonic_sessions (
            process bigint NOT NULL REFERENCES sonic_index_processes (id) ON DELETE CASCADE,
            session bigint NOT NULL,
            host text,
            port integer,
            peer_id bytea,
            PRIMARY KEY (process, session)
        )
        """,
        """
        CREATE TABLE IF NOT EXISTS sonic_files (
            process bigint NOT NULL,
            session bigint NOT NULL,
            name text COLLATE "C" NOT NULL,
            base_name text COLLATE "C" NOT NULL,
            folded text COLLATE "C" NOT NULL,
            size bigint NOT NULL,
            content_id bytea NOT NULL,
            file_hash bytea NOT NULL,
            PRIMARY KEY (process, session, name),
            FOREIGN KEY (process, session) REFERENCES sonic_sessions (process, session) ON DELETE CASCADE
        )
        """,
        """
        CREATE TABLE IF NOT EXISTS sonic_partial_holdings (
            process bigint NOT NULL,
            session bigint NOT NULL,
            content_id bytea NOT NULL,
            announced timestamptz NOT NULL DEFAULT clock_timestamp(),
            PRIMARY KEY (process, session, content_id),
            FOREIGN KEY (process, session) REFERENCES sonic_sessions (process, session) ON DELETE CASCADE
        )
        """,
        // peer_id (the SHA-256 behind the peer id the session proved in its TLS handshake;
        // null with TLS off) on a table made before it existed. Only then is the table locked:
        // ALTER TABLE takes an exclusive lock even when the column is there, and that
        // deadlocked against another index process's first queries.
        """
        DO $$ BEGIN
            IF NOT EXISTS (SELECT 1 FROM information_schema.columns
                           WHERE table_schema = current_schema() AND table_name = 'sonic_sessions'
                             AND column_name = 'peer_id') THEN
                ALTER TABLE sonic_sessions ADD COLUMN peer_id bytea;
            END IF;
        END $$
        """,
        "CREATE INDEX IF NOT EXISTS sonic_partial_holdings_content ON sonic_partial_holdings (content_id)",
        // The peer ids of a page's addresses (`peerIDs(at:)`) are looked up by address.
        "CREATE INDEX IF NOT EXISTS sonic_sessions_address ON sonic_sessions (host, port)",
        "CREATE INDEX IF NOT EXISTS sonic_files_folded ON sonic_files USING gin (folded gin_trgm_ops)",
        "CREATE INDEX IF NOT EXISTS sonic_files_name ON sonic_files (name)",
        "CREATE INDEX IF NOT EXISTS sonic_files_base_name ON sonic_files (base_name)",
        "CREATE INDEX IF NOT EXISTS sonic_files_content ON sonic_files (content_id)",
    ]

    /// Creates what is missing, in one transaction under ``lockKey``.
    static func create(on client: PostgresClient, logger: Logger) async throws {
        try await client.withTransaction(logger: logger) { connection in
            try await connection.query("SELECT pg_advisory_xact_lock(\(lockKey))", logger: logger)
            for statement in statements {
                try await connection.query(statement, logger: logger)
            }
        }
    }
}
