public import Foundation
public import OAuthBroker

// The BrokerStore operations of SQLiteStore; each is one hop to the connection's queue.
extension SQLiteStore {
    /// The record for `key`, or `nil`.
    /// - Throws: ``OAuthBroker/BrokerError`` for SQLite failures or an undecodable row.
    public func record(for key: StoreKey) async throws -> TokenRecord? {
        let row = try await performRead { try Self.readRow(key, on: $0) }
        return try row.map { try Self.decode($0, key: key, codec: codec) }
    }

    /// Stores `record` if the key has none, in one transaction.
    /// - Throws: ``OAuthBroker/BrokerError`` for SQLite failures or an undecodable row.
    public func insert(_ record: TokenRecord, for key: StoreKey) async throws -> InsertOutcome {
        let codec = self.codec
        let blob = try codec.encode(record, for: key)
        let updatedAt = Self.millis(Date())
        return try await perform { connection in
            try connection.immediateTransaction {
                try connection.run(
                    """
                    INSERT INTO oauth_broker_records
                        (storage_id, provider, tenant, principal, scopes, version, blob, updated_at_ms)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (storage_id) DO NOTHING
                    """,
                    [
                        .text(key.storageID), .text(key.provider.rawValue), .text(key.tenant.rawValue),
                        .text(key.principal.rawValue), .text(key.scopes.normalized),
                        .integer(Int64(bitPattern: record.version)), .blob(blob), .integer(updatedAt),
                    ])
                if connection.changes == 1 { return .inserted(record) }
                guard let current = try Self.read(key, on: connection, codec: codec) else {
                    throw BrokerError(.storeFailed, "insert neither inserted nor found a record", key: key)
                }
                return .exists(current: current)
            }
        }
    }

    /// Replaces the record if its version is `expected`, storing version `expected + 1`, in one
    /// `BEGIN IMMEDIATE` transaction.
    /// - Throws: ``OAuthBroker/BrokerError`` for SQLite failures or an undecodable row.
    public func compareAndSwap(_ key: StoreKey, expecting expected: UInt64, with new: TokenRecord) async throws
        -> SwapOutcome
    {
        let codec = self.codec
        var stored = new
        stored.version = expected &+ 1
        let blob = try codec.encode(stored, for: key)
        let updatedAt = Self.millis(Date())
        return try await perform { [stored] connection in
            try connection.immediateTransaction {
                try Self.update(key, expected: expected, to: stored.version, blob: blob, at: updatedAt, on: connection)
                if connection.changes == 1 { return .swapped(stored) }
                guard let current = try Self.read(key, on: connection, codec: codec) else { return .missing }
                return .conflict(current: current)
            }
        }
    }

    /// Sets the status and bumps the version in one transaction.
    /// - Throws: ``OAuthBroker/BrokerError`` for SQLite failures or an undecodable row.
    public func setStatus(_ status: TokenRecord.Status, for key: StoreKey) async throws -> TokenRecord? {
        let codec = self.codec
        let updatedAt = Self.millis(Date())
        return try await perform { connection in
            try connection.immediateTransaction {
                guard var record = try Self.read(key, on: connection, codec: codec) else { return nil }
                guard record.status != status else { return record }
                let expected = record.version
                record.status = status
                record.version = expected &+ 1
                let blob = try codec.encode(record, for: key)
                try Self.update(key, expected: expected, to: record.version, blob: blob, at: updatedAt, on: connection)
                guard connection.changes == 1 else {
                    throw BrokerError(.storeFailed, "a status update inside a transaction changed no row", key: key)
                }
                return record
            }
        }
    }

    /// Deletes the record.
    /// - Returns: Whether a record existed.
    /// - Throws: ``OAuthBroker/BrokerError`` for SQLite failures.
    @discardableResult
    public func deleteRecord(for key: StoreKey) async throws -> Bool {
        try await perform { connection in
            try connection.run("DELETE FROM oauth_broker_records WHERE storage_id = ?", [.text(key.storageID)])
            return connection.changes > 0
        }
    }

    /// Keys in ``OAuthBroker/StoreKey/storageID`` order (SQLite's binary collation: UTF-8 byte order).
    /// - Throws: ``OAuthBroker/BrokerError`` for SQLite failures or a row whose key does not validate.
    public func keys(tenant: TenantID?) async throws -> [StoreKey] {
        try await performRead { connection in
            var keys: [StoreKey] = []
            let columns = "SELECT provider, tenant, principal, scopes, storage_id FROM oauth_broker_records"
            let collect: (SQLiteRow) throws -> Void = { row in
                guard
                    let key = try? StoreKey(
                        provider: row.text(0), tenant: row.text(1), principal: row.text(2),
                        scopes: row.text(3).split(separator: " ").map(String.init)),
                    key.storageID == row.text(4)
                else { throw BrokerError(.storeCorrupted, "a record row's key columns do not form its storage ID") }
                keys.append(key)
            }
            if let tenant {
                try connection.run(
                    columns + " WHERE tenant = ? ORDER BY storage_id", [.text(tenant.rawValue)], row: collect)
            } else {
                try connection.run(columns + " ORDER BY storage_id", row: collect)
            }
            return keys
        }
    }

    /// Saves a session (replacing one with the same id) and deletes expired sessions, in one transaction.
    /// - Throws: ``OAuthBroker/BrokerError`` for SQLite failures.
    public func saveSession(_ session: AuthorizationSession) async throws {
        let blob = try codec.encode(session)
        let now = self.now
        try await perform { connection in
            try connection.immediateTransaction {
                try connection.run(
                    "DELETE FROM oauth_broker_sessions WHERE expires_at_ms <= ?", [.integer(Self.millis(now()))])
                try connection.run(
                    """
                    INSERT INTO oauth_broker_sessions (id, expires_at_ms, blob) VALUES (?, ?, ?)
                    ON CONFLICT (id) DO UPDATE SET expires_at_ms = excluded.expires_at_ms, blob = excluded.blob
                    """,
                    [.text(session.id), .integer(Self.millis(session.expiresAt)), .blob(blob)])
            }
        }
    }

    /// Removes the session in one `DELETE … RETURNING` and returns it unless it has expired.
    /// - Throws: ``OAuthBroker/BrokerError`` for SQLite failures or an undecodable session.
    public func takeSession(id: String) async throws -> AuthorizationSession? {
        let codec = self.codec
        let now = self.now
        return try await perform { connection -> AuthorizationSession? in
            // One transaction: a session the codec cannot decode (a missing sealing key) is rolled back, not lost.
            try connection.immediateTransaction {
                var blob: [UInt8]?
                try connection.run("DELETE FROM oauth_broker_sessions WHERE id = ? RETURNING blob", [.text(id)]) {
                    blob = $0.blob(0)
                }
                guard let blob else { return nil }
                let session = try codec.decodeSession(blob, id: id)
                return session.isExpired(at: now()) ? nil : session
            }
        }
    }

    /// Re-encodes every unexpired session through the codec in one transaction: all are decoded before any row
    /// is updated, and a session that cannot be decoded rolls the transaction back.
    /// - Returns: How many sessions were re-encoded.
    /// - Throws: ``OAuthBroker/BrokerError`` for SQLite failures or a session the codec cannot decode.
    public func resealSessions() async throws -> Int {
        let codec = self.codec
        let now = self.now
        return try await perform { connection in
            try connection.immediateTransaction {
                var rows: [(id: String, blob: [UInt8])] = []
                try connection.run(
                    "SELECT id, blob FROM oauth_broker_sessions WHERE expires_at_ms > ? ORDER BY id",
                    [.integer(Self.millis(now()))]
                ) { rows.append(($0.text(0), $0.blob(1))) }
                let blobs = try rows.map { try codec.encode(codec.decodeSession($0.blob, id: $0.id)) }
                for (row, blob) in zip(rows, blobs) {
                    try connection.run(
                        "UPDATE oauth_broker_sessions SET blob = ? WHERE id = ?", [.blob(blob), .text(row.id)])
                }
                return rows.count
            }
        }
    }

    /// Deletes sessions expired at `instant`.
    /// - Returns: How many were deleted.
    /// - Throws: ``OAuthBroker/BrokerError`` for SQLite failures.
    @discardableResult
    public func purgeExpiredSessions(before instant: Date) async throws -> Int {
        try await perform { connection in
            try connection.run(
                "DELETE FROM oauth_broker_sessions WHERE expires_at_ms <= ?", [.integer(Self.millis(instant))])
            return connection.changes
        }
    }

    /// Takes or renews the lease with one conditional upsert: it succeeds when the lease is free, expired, or
    /// already `owner`'s. The clock is read on the connection's queue, after any wait for the queue.
    /// - Throws: ``OAuthBroker/BrokerError`` for SQLite failures.
    public func acquireRefreshLease(for key: StoreKey, owner: LeaseOwner, ttl: Duration) async throws -> Bool {
        let now = self.now
        return try await perform { connection in
            let current = now()
            try connection.run(
                """
                INSERT INTO oauth_broker_leases (storage_id, owner, expires_at_ms) VALUES (?1, ?2, ?3)
                ON CONFLICT (storage_id) DO UPDATE SET owner = excluded.owner, expires_at_ms = excluded.expires_at_ms
                WHERE oauth_broker_leases.owner = excluded.owner OR oauth_broker_leases.expires_at_ms <= ?4
                """,
                [
                    .text(key.storageID), .text(owner.rawValue),
                    .integer(Self.millisRoundedUp(current.addingTimeInterval(ttl.timeInterval))),
                    .integer(Self.millis(current)),
                ])
            return connection.changes == 1
        }
    }

    /// Releases the lease if `owner` holds it.
    /// - Throws: ``OAuthBroker/BrokerError`` for SQLite failures.
    public func releaseRefreshLease(for key: StoreKey, owner: LeaseOwner) async throws {
        try await perform { connection in
            try connection.run(
                "DELETE FROM oauth_broker_leases WHERE storage_id = ? AND owner = ?",
                [.text(key.storageID), .text(owner.rawValue)])
        }
    }

    // MARK: Helpers (run on the connection's queue)

    /// A record row: its version column and its blob.
    struct RecordRow: Sendable {
        let version: Int64
        let blob: [UInt8]
    }

    static func read(_ key: StoreKey, on connection: SQLiteConnection, codec: any StoreCodec) throws -> TokenRecord? {
        try readRow(key, on: connection).map { try decode($0, key: key, codec: codec) }
    }

    static func readRow(_ key: StoreKey, on connection: SQLiteConnection) throws -> RecordRow? {
        var row: RecordRow?
        try connection.run(
            "SELECT version, blob FROM oauth_broker_records WHERE storage_id = ?", [.text(key.storageID)]
        ) { row = RecordRow(version: $0.integer(0), blob: $0.blob(1)) }
        return row
    }

    /// Decodes a row's blob and checks it against the row's version column (may run off the connection's queue).
    static func decode(_ row: RecordRow, key: StoreKey, codec: any StoreCodec) throws -> TokenRecord {
        let record = try codec.decodeRecord(row.blob, for: key)
        guard record.version == UInt64(bitPattern: row.version) else {
            throw BrokerError(.storeCorrupted, "a record row's version disagrees with its blob", key: key)
        }
        return record
    }

    static func update(
        _ key: StoreKey, expected: UInt64, to version: UInt64, blob: [UInt8], at updatedAt: Int64,
        on connection: SQLiteConnection
    ) throws {
        try connection.run(
            "UPDATE oauth_broker_records SET version = ?, blob = ?, updated_at_ms = ? WHERE storage_id = ? AND version = ?",
            [
                .integer(Int64(bitPattern: version)), .blob(blob), .integer(updatedAt), .text(key.storageID),
                .integer(Int64(bitPattern: expected)),
            ])
    }
}
