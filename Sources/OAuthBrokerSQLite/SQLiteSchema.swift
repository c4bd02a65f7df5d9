import Foundation
import OAuthBroker

/// The database schema and its migrations.
///
/// ## Schema version 1
/// ```sql
/// CREATE TABLE oauth_broker_schema (        -- one row per applied migration
///     version       INTEGER PRIMARY KEY,
///     applied_at_ms INTEGER NOT NULL        -- wall clock, ms since 1970 UTC
/// );
/// CREATE TABLE oauth_broker_records (
///     storage_id    TEXT PRIMARY KEY,       -- StoreKey.storageID
///     provider      TEXT NOT NULL,
///     tenant        TEXT NOT NULL,
///     principal     TEXT NOT NULL,
///     scopes        TEXT NOT NULL,          -- ScopeSet.normalized (space-separated, sorted)
///     version       INTEGER NOT NULL,       -- the record's version (UInt64 bit pattern; always < 2^63)
///     blob          BLOB NOT NULL,          -- StoreCodec record blob
///     updated_at_ms INTEGER NOT NULL
/// ) WITHOUT ROWID;
/// CREATE INDEX oauth_broker_records_by_tenant ON oauth_broker_records (tenant, storage_id);
/// CREATE TABLE oauth_broker_sessions (
///     id            TEXT PRIMARY KEY,       -- AuthorizationSession.id (hex SHA-256 of state)
///     expires_at_ms INTEGER NOT NULL,
///     blob          BLOB NOT NULL           -- StoreCodec session blob
/// ) WITHOUT ROWID;
/// CREATE INDEX oauth_broker_sessions_by_expiry ON oauth_broker_sessions (expires_at_ms);
/// CREATE TABLE oauth_broker_leases (
///     storage_id    TEXT PRIMARY KEY,
///     owner         TEXT NOT NULL,          -- LeaseOwner.rawValue
///     expires_at_ms INTEGER NOT NULL        -- wall clock, ms since 1970 UTC
/// ) WITHOUT ROWID;
/// ```
///
/// ## Schema version 2
/// No change to the tables: records an earlier release stored for keys with non-ASCII components move from their
/// legacy storage ID (escaped per `Character`) to ``OAuthBroker/StoreKey/storageID`` (escaped per UTF-8 byte,
/// always ASCII), recomputed from the row's key columns; leases under a non-ASCII ID are deleted (they last seconds).
///
/// Connections use `journal_mode=WAL` and the configured `synchronous` level. Migrations run in one
/// `BEGIN IMMEDIATE` transaction, so processes opening the database at the same time apply each exactly once.
/// A database whose schema is newer than this release knows is refused (``BrokerError/Code/storeFailed``).
enum SQLiteSchema {
    /// The schema version this release creates.
    static var latestVersion: Int { migrations.count }

    /// One schema step: SQL, or code for a step SQL cannot express.
    enum Migration: Sendable {
        case sql(String)
        case code(@Sendable (SQLiteConnection) throws -> Void)
    }

    /// Migration `n` (1-based) takes the schema from version `n - 1` to `n`. Append only; never edit one.
    static let migrations: [Migration] = [
        .sql(
            """
            CREATE TABLE oauth_broker_records (
                storage_id TEXT PRIMARY KEY,
                provider TEXT NOT NULL,
                tenant TEXT NOT NULL,
                principal TEXT NOT NULL,
                scopes TEXT NOT NULL,
                version INTEGER NOT NULL,
                blob BLOB NOT NULL,
                updated_at_ms INTEGER NOT NULL
            ) WITHOUT ROWID;
            CREATE INDEX oauth_broker_records_by_tenant ON oauth_broker_records (tenant, storage_id);
            CREATE TABLE oauth_broker_sessions (
                id TEXT PRIMARY KEY,
                expires_at_ms INTEGER NOT NULL,
                blob BLOB NOT NULL
            ) WITHOUT ROWID;
            CREATE INDEX oauth_broker_sessions_by_expiry ON oauth_broker_sessions (expires_at_ms);
            CREATE TABLE oauth_broker_leases (
                storage_id TEXT PRIMARY KEY,
                owner TEXT NOT NULL,
                expires_at_ms INTEGER NOT NULL
            ) WITHOUT ROWID;
            """),
        .code(moveLegacyStorageIDs),
    ]

    /// Migration 2: re-files records of keys with non-ASCII components under their byte-exact storage IDs.
    static func moveLegacyStorageIDs(_ connection: SQLiteConnection) throws {
        let nonASCII = "storage_id GLOB '*[^ -~]*'"
        var moves: [(from: String, to: String)] = []
        try connection.run(
            "SELECT storage_id, provider, tenant, principal, scopes FROM oauth_broker_records WHERE \(nonASCII)"
        ) { row in
            // A row whose columns do not form a key is left where it is; listing reports it as corrupt.
            guard
                let key = try? StoreKey(
                    provider: row.text(1), tenant: row.text(2), principal: row.text(3),
                    scopes: row.text(4).split(separator: " ").map(String.init))
            else { return }
            let from = row.text(0)
            if from.utf8.elementsEqual(key.legacyStorageID.utf8) { moves.append((from, key.storageID)) }
        }
        for move in moves {
            // A record already filed under the new ID was written later, by this release: it wins.
            try connection.run(
                """
                DELETE FROM oauth_broker_records WHERE storage_id = ?
                AND EXISTS (SELECT 1 FROM oauth_broker_records WHERE storage_id = ?)
                """, [.text(move.from), .text(move.to)])
            try connection.run(
                "UPDATE oauth_broker_records SET storage_id = ? WHERE storage_id = ?",
                [.text(move.to), .text(move.from)])
        }
        try connection.execute("DELETE FROM oauth_broker_leases WHERE \(nonASCII)")
    }

    /// Sets the connection's pragmas and applies missing migrations.
    static func prepare(_ connection: SQLiteConnection, synchronous: SQLiteStore.Synchronous) throws {
        var journalMode = ""
        try connection.run("PRAGMA journal_mode=WAL") { journalMode = $0.text(0) }
        guard journalMode.lowercased() == "wal" || journalMode.lowercased() == "memory" else {
            throw BrokerError(
                .storeFailed, "SQLite refused WAL journal mode (got \(journalMode)) on \(connection.path)")
        }
        try connection.execute("PRAGMA synchronous=\(synchronous.pragmaValue)")
        try connection.immediateTransaction {
            try connection.execute(
                """
                CREATE TABLE IF NOT EXISTS oauth_broker_schema (
                    version INTEGER PRIMARY KEY, applied_at_ms INTEGER NOT NULL)
                """)
            var current = 0
            try connection.run("SELECT COALESCE(MAX(version), 0) FROM oauth_broker_schema") {
                current = Int($0.integer(0))
            }
            guard current <= latestVersion else {
                throw BrokerError(
                    .storeFailed,
                    "\(connection.path) has schema version \(current), newer than this release knows (\(latestVersion))"
                )
            }
            for version in (current + 1)..<(latestVersion + 1) {
                switch migrations[version - 1] {
                case .sql(let sql): try connection.execute(sql)
                case .code(let step): try step(connection)
                }
                try connection.run(
                    "INSERT INTO oauth_broker_schema (version, applied_at_ms) VALUES (?, ?)",
                    [.integer(Int64(version)), .integer(Int64(Date().timeIntervalSince1970 * 1000))])
            }
        }
    }
}
