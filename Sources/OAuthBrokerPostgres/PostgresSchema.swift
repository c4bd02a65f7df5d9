import Logging
import OAuthBroker
import PostgresNIO

/// The database schema and its migrations.
///
/// ## Schema version 1
/// ```sql
/// CREATE TABLE oauth_broker_schema (          -- one row per applied migration
///     version    integer PRIMARY KEY,
///     applied_at timestamptz NOT NULL DEFAULT now()
/// );
/// CREATE TABLE oauth_broker_records (
///     storage_id text COLLATE "C" PRIMARY KEY,   -- StoreKey.storageID (ASCII)
///     provider   text NOT NULL,
///     tenant     text COLLATE "C" NOT NULL,
///     principal  text NOT NULL,
///     scopes     text NOT NULL,                  -- ScopeSet.normalized (space-separated, sorted)
///     version    bigint NOT NULL,                -- TokenRecord.version (UInt64 bit pattern; always < 2^63)
///     status     text NOT NULL,                  -- TokenRecord.Status raw value
///     expires_at timestamptz,                    -- the access token's expiry, if known
///     blob       bytea NOT NULL,                 -- StoreCodec record blob (JSON, or sealed)
///     updated_at timestamptz NOT NULL DEFAULT now()
/// );
/// CREATE INDEX oauth_broker_records_by_tenant ON oauth_broker_records (tenant, storage_id);
/// CREATE INDEX oauth_broker_records_due ON oauth_broker_records (expires_at) WHERE status = 'active';
/// CREATE TABLE oauth_broker_sessions (
///     id         text COLLATE "C" PRIMARY KEY,   -- AuthorizationSession.id (hex SHA-256 of state)
///     expires_at timestamptz NOT NULL,
///     blob       bytea NOT NULL                  -- StoreCodec session blob
/// );
/// CREATE INDEX oauth_broker_sessions_by_expiry ON oauth_broker_sessions (expires_at);
/// CREATE TABLE oauth_broker_leases (
///     storage_id text COLLATE "C" PRIMARY KEY,
///     owner      text NOT NULL,                  -- LeaseOwner.rawValue
///     expires_at timestamptz NOT NULL            -- the server's clock_timestamp() + time-to-live
/// );
/// ```
///
/// `oauth_broker_records_due` serves "records due for refresh" (`WHERE status = 'active' AND expires_at < $1
/// ORDER BY expires_at`). Storage IDs are ASCII (``OAuthBroker/StoreKey/storageID`` escapes every other byte), so
/// the SQLite store's legacy storage-ID migration has no counterpart here.
///
/// Migrations run in one transaction that first takes `pg_advisory_xact_lock` on a key derived from the schema
/// name, so any number of processes opening one database at once apply each migration exactly once (the others
/// wait for the lock, then find nothing to do). A database whose schema is newer than this release knows is refused
/// (``OAuthBroker/BrokerError/Code/storeFailed``).
enum PostgresSchema {
    /// The schema version this release creates.
    static var latestVersion: Int { migrations.count }

    /// Migration `n` (1-based) takes the schema from version `n - 1` to `n`: single SQL statements, run in order.
    /// Append only; never edit one.
    static let migrations: [[String]] = [
        [
            """
            CREATE TABLE oauth_broker_records (
                storage_id text COLLATE "C" PRIMARY KEY,
                provider text NOT NULL,
                tenant text COLLATE "C" NOT NULL,
                principal text NOT NULL,
                scopes text NOT NULL,
                version bigint NOT NULL,
                status text NOT NULL,
                expires_at timestamptz,
                blob bytea NOT NULL,
                updated_at timestamptz NOT NULL DEFAULT now()
            )
            """,
            "CREATE INDEX oauth_broker_records_by_tenant ON oauth_broker_records (tenant, storage_id)",
            "CREATE INDEX oauth_broker_records_due ON oauth_broker_records (expires_at) WHERE status = 'active'",
            """
            CREATE TABLE oauth_broker_sessions (
                id text COLLATE "C" PRIMARY KEY,
                expires_at timestamptz NOT NULL,
                blob bytea NOT NULL
            )
            """,
            "CREATE INDEX oauth_broker_sessions_by_expiry ON oauth_broker_sessions (expires_at)",
            """
            CREATE TABLE oauth_broker_leases (
                storage_id text COLLATE "C" PRIMARY KEY,
                owner text NOT NULL,
                expires_at timestamptz NOT NULL
            )
            """,
        ]
    ]

    /// What a schema name may be: it goes into `search_path` and `CREATE SCHEMA` as an unquoted identifier.
    static let nameRule =
        "a schema name is lower-case ASCII letters, digits and '_', starts with a letter or '_', at most 63 bytes"

    /// Whether `name` follows ``nameRule``.
    static func isValidName(_ name: String) -> Bool {
        guard let first = name.utf8.first, name.utf8.count <= 63 else { return false }
        func isLetter(_ byte: UInt8) -> Bool { (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || byte == 95 }
        return isLetter(first)
            && name.utf8.allSatisfy { isLetter($0) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }
    }

    /// Creates the schema (when one is named) and applies the missing migrations, in one transaction on
    /// `connection`, under the advisory lock.
    /// - Parameters:
    ///   - connection: A connection whose `search_path` starts with `schema` (when given).
    ///   - schema: The schema to create if missing, or `nil` to use the connection's current schema.
    ///   - logger: Where postgres-nio logs the queries.
    /// - Returns: The schema version found before migrating.
    @discardableResult
    static func migrate(on connection: PostgresConnection, schema: String?, logger: Logger) async throws -> Int {
        try await connection.query("BEGIN", logger: logger)
        do {
            let lockName = "oauth_broker_migrations:\(schema ?? "")"
            try await connection.query(
                "SELECT pg_advisory_xact_lock(hashtextextended(\(lockName) || coalesce(current_schema(), ''), 0))",
                logger: logger)
            if let schema {
                // Not a value but an identifier, checked by isValidName: it cannot be bound as a parameter.
                precondition(isValidName(schema))
                try await connection.query(
                    PostgresQuery(unsafeSQL: "CREATE SCHEMA IF NOT EXISTS \(schema)"), logger: logger)
            }
            try await connection.query(
                """
                CREATE TABLE IF NOT EXISTS oauth_broker_schema (
                    version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())
                """, logger: logger)
            var current = 0
            for try await (version) in try await connection.query(
                "SELECT COALESCE(MAX(version), 0)::bigint FROM oauth_broker_schema", logger: logger
            ).decode(Int64.self) {
                current = Int(version)
            }
            guard current <= latestVersion else {
                throw BrokerError(
                    .storeFailed,
                    "the PostgreSQL schema has version \(current), newer than this release knows (\(latestVersion))")
            }
            for version in (current + 1)..<(latestVersion + 1) {
                for statement in migrations[version - 1] {
                    try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                }
                try await connection.query(
                    "INSERT INTO oauth_broker_schema (version) VALUES (\(Int32(version)))", logger: logger)
            }
            try await connection.query("COMMIT", logger: logger)
            return current
        } catch {
            _ = try? await connection.query("ROLLBACK", logger: logger)
            throw error
        }
    }
}
