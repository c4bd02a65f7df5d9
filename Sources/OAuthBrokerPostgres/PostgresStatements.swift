import Foundation
import PostgresNIO

/// The store's named prepared statements: fixed SQL, every value a bound parameter. postgres-nio prepares each
/// once per connection (by its type's name) and reuses it. Table names are unqualified: they resolve through the
/// connection's `search_path` (the configured schema).
enum PostgresStatements {
    /// `(version, blob)` of one record.
    struct SelectRecord: PostgresPreparedStatement {
        static let sql = "SELECT version, blob FROM oauth_broker_records WHERE storage_id = $1"
        typealias Row = (Int64, ByteBuffer)
        var storageID: String
        func makeBindings() -> PostgresBindings {
            var bindings = PostgresBindings(capacity: 1)
            bindings.append(storageID)
            return bindings
        }
        func decodeRow(_ row: PostgresRow) throws -> Row { try row.decode(Row.self) }
    }

    /// Like ``SelectRecord``, locking the row until the transaction ends.
    struct SelectRecordForUpdate: PostgresPreparedStatement {
        static let sql = "SELECT version, blob FROM oauth_broker_records WHERE storage_id = $1 FOR UPDATE"
        typealias Row = (Int64, ByteBuffer)
        var storageID: String
        func makeBindings() -> PostgresBindings {
            var bindings = PostgresBindings(capacity: 1)
            bindings.append(storageID)
            return bindings
        }
        func decodeRow(_ row: PostgresRow) throws -> Row { try row.decode(Row.self) }
    }

    /// Inserts a record unless the key has one; returns a row only when it inserted.
    struct InsertRecord: PostgresPreparedStatement {
        static let sql = """
            INSERT INTO oauth_broker_records
                (storage_id, provider, tenant, principal, scopes, version, status, expires_at, blob)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
            ON CONFLICT (storage_id) DO NOTHING
            RETURNING version
            """
        typealias Row = Int64
        var storageID: String
        var provider: String
        var tenant: String
        var principal: String
        var scopes: String
        var version: Int64
        var status: String
        var expiresAt: Date?
        var blob: ByteBuffer
        func makeBindings() -> PostgresBindings {
            var bindings = PostgresBindings(capacity: 9)
            bindings.append(storageID)
            bindings.append(provider)
            bindings.append(tenant)
            bindings.append(principal)
            bindings.append(scopes)
            bindings.append(version)
            bindings.append(status)
            bindings.append(expiresAt)
            bindings.append(blob)
            return bindings
        }
        func decodeRow(_ row: PostgresRow) throws -> Row { try row.decode(Int64.self) }
    }

    /// Compare-and-swap: replaces the record only if its version is `expected`; returns a row only when it did.
    struct SwapRecord: PostgresPreparedStatement {
        static let sql = """
            UPDATE oauth_broker_records
            SET version = $3, status = $4, expires_at = $5, blob = $6, updated_at = now()
            WHERE storage_id = $1 AND version = $2
            RETURNING version
            """
        typealias Row = Int64
        var storageID: String
        var expected: Int64
        var version: Int64
        var status: String
        var expiresAt: Date?
        var blob: ByteBuffer
        func makeBindings() -> PostgresBindings {
            var bindings = PostgresBindings(capacity: 6)
            bindings.append(storageID)
            bindings.append(expected)
            bindings.append(version)
            bindings.append(status)
            bindings.append(expiresAt)
            bindings.append(blob)
            return bindings
        }
        func decodeRow(_ row: PostgresRow) throws -> Row { try row.decode(Int64.self) }
    }

    /// Deletes a record; returns a row when one existed.
    struct DeleteRecord: PostgresPreparedStatement {
        static let sql = "DELETE FROM oauth_broker_records WHERE storage_id = $1 RETURNING 1"
        typealias Row = Int32
        var storageID: String
        func makeBindings() -> PostgresBindings {
            var bindings = PostgresBindings(capacity: 1)
            bindings.append(storageID)
            return bindings
        }
        func decodeRow(_ row: PostgresRow) throws -> Row { try row.decode(Int32.self) }
    }

    /// The key columns of every record, in storage-ID (byte) order.
    struct ListKeys: PostgresPreparedStatement {
        static let sql = """
            SELECT provider, tenant, principal, scopes, storage_id FROM oauth_broker_records
            ORDER BY storage_id COLLATE "C"
            """
        typealias Row = (String, String, String, String, String)
        func makeBindings() -> PostgresBindings { PostgresBindings() }
        func decodeRow(_ row: PostgresRow) throws -> Row { try row.decode(Row.self) }
    }

    /// The key columns of one tenant's records, in storage-ID (byte) order (index `oauth_broker_records_by_tenant`).
    struct ListTenantKeys: PostgresPreparedStatement {
        static let sql = """
            SELECT provider, tenant, principal, scopes, storage_id FROM oauth_broker_records
            WHERE tenant = $1 ORDER BY storage_id COLLATE "C"
            """
        typealias Row = (String, String, String, String, String)
        var tenant: String
        func makeBindings() -> PostgresBindings {
            var bindings = PostgresBindings(capacity: 1)
            bindings.append(tenant)
            return bindings
        }
        func decodeRow(_ row: PostgresRow) throws -> Row { try row.decode(Row.self) }
    }

    /// Stores a session (replacing one with its id) and deletes other sessions expired at `now`, in one statement.
    struct SaveSession: PostgresPreparedStatement {
        static let sql = """
            WITH purged AS (DELETE FROM oauth_broker_sessions WHERE expires_at <= $4 AND id <> $1)
            INSERT INTO oauth_broker_sessions (id, expires_at, blob) VALUES ($1, $2, $3)
            ON CONFLICT (id) DO UPDATE SET expires_at = excluded.expires_at, blob = excluded.blob
            """
        typealias Row = ()
        var id: String
        var expiresAt: Date
        var blob: ByteBuffer
        var now: Date
        func makeBindings() -> PostgresBindings {
            var bindings = PostgresBindings(capacity: 4)
            bindings.append(id)
            bindings.append(expiresAt)
            bindings.append(blob)
            bindings.append(now)
            return bindings
        }
        func decodeRow(_ row: PostgresRow) throws -> Row {}
    }

    /// Removes a session and returns its blob (single use).
    struct TakeSession: PostgresPreparedStatement {
        static let sql = "DELETE FROM oauth_broker_sessions WHERE id = $1 RETURNING blob"
        typealias Row = ByteBuffer
        var id: String
        func makeBindings() -> PostgresBindings {
            var bindings = PostgresBindings(capacity: 1)
            bindings.append(id)
            return bindings
        }
        func decodeRow(_ row: PostgresRow) throws -> Row { try row.decode(ByteBuffer.self) }
    }

    /// Every session unexpired at `now`, locked until the transaction ends.
    struct SelectLiveSessions: PostgresPreparedStatement {
        static let sql = """
            SELECT id, blob FROM oauth_broker_sessions WHERE expires_at > $1 ORDER BY id FOR UPDATE
            """
        typealias Row = (String, ByteBuffer)
        var now: Date
        func makeBindings() -> PostgresBindings {
            var bindings = PostgresBindings(capacity: 1)
            bindings.append(now)
            return bindings
        }
        func decodeRow(_ row: PostgresRow) throws -> Row { try row.decode(Row.self) }
    }

    /// Replaces a session's blob, keeping its expiry.
    struct UpdateSessionBlob: PostgresPreparedStatement {
        static let sql = "UPDATE oauth_broker_sessions SET blob = $2 WHERE id = $1"
        typealias Row = ()
        var id: String
        var blob: ByteBuffer
        func makeBindings() -> PostgresBindings {
            var bindings = PostgresBindings(capacity: 2)
            bindings.append(id)
            bindings.append(blob)
            return bindings
        }
        func decodeRow(_ row: PostgresRow) throws -> Row {}
    }

    /// Deletes sessions expired at `instant`; one row per deleted session.
    struct PurgeSessions: PostgresPreparedStatement {
        static let sql = "DELETE FROM oauth_broker_sessions WHERE expires_at <= $1 RETURNING 1"
        typealias Row = Int32
        var instant: Date
        func makeBindings() -> PostgresBindings {
            var bindings = PostgresBindings(capacity: 1)
            bindings.append(instant)
            return bindings
        }
        func decodeRow(_ row: PostgresRow) throws -> Row { try row.decode(Int32.self) }
    }

    /// Takes or renews a lease when it is free, expired or already `owner`'s, by the server's clock; returns a
    /// row only when `owner` holds it afterwards.
    struct AcquireLease: PostgresPreparedStatement {
        static let sql = """
            INSERT INTO oauth_broker_leases AS lease (storage_id, owner, expires_at)
            VALUES ($1, $2, clock_timestamp() + make_interval(secs => $3::float8 / 1000000))
            ON CONFLICT (storage_id) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at
            WHERE lease.owner = excluded.owner OR lease.expires_at <= clock_timestamp()
            RETURNING 1
            """
        typealias Row = Int32
        var storageID: String
        var owner: String
        var ttlMicroseconds: Int64
        func makeBindings() -> PostgresBindings {
            var bindings = PostgresBindings(capacity: 3)
            bindings.append(storageID)
            bindings.append(owner)
            bindings.append(ttlMicroseconds)
            return bindings
        }
        func decodeRow(_ row: PostgresRow) throws -> Row { try row.decode(Int32.self) }
    }

    /// Releases a lease if `owner` holds it.
    struct ReleaseLease: PostgresPreparedStatement {
        static let sql = "DELETE FROM oauth_broker_leases WHERE storage_id = $1 AND owner = $2"
        typealias Row = ()
        var storageID: String
        var owner: String
        func makeBindings() -> PostgresBindings {
            var bindings = PostgresBindings(capacity: 2)
            bindings.append(storageID)
            bindings.append(owner)
            return bindings
        }
        func decodeRow(_ row: PostgresRow) throws -> Row {}
    }
}
