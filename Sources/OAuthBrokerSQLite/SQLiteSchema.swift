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
/// Connections use `journal_mode=WAL` and the configured `synchronous` level. Migrations run in one
/// `BEGIN IMMEDIATE` transaction, so processes opening the database at the same time apply each exactly once.
/// A database whose schema is newer than this release knows is refused (``BrokerError/Code/storeFailed``).
enum SQLiteSchema {
    /// The schema version this release creates.
    static var latestVersion: Int { migrations.count }

    /// Migration `n` (1-based) takes the schema from version `n - 1` to `n`. Append only; never edit one.
    static let migrations: [String] = [
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
        """
    ]

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
                try connection.execute(migrations[version - 1])
                try connection.run(
                    "INSERT INTO oauth_broker_schema (version, applied_at_ms) VALUES (?, ?)",
                    [.integer(Int64(version)), .integer(Int64(Date().timeIntervalSince1970 * 1000))])
            }
        }
    }
}
