public import Foundation
public import OAuthBroker
import PostgresNIO

// The BrokerStore operations of PostgresStore: each is one prepared statement, or one short transaction.
extension PostgresStore {
    /// The record for `key`, or `nil`.
    /// - Throws: ``OAuthBroker/BrokerError`` for server failures or an undecodable row.
    public func record(for key: StoreKey) async throws -> TokenRecord? {
        let statement = PostgresStatements.SelectRecord(storageID: key.storageID)
        let row = try await perform("reading a record", key: key) { client in
            try await Self.first(client.execute(statement, logger: self.logger))
        }
        return try row.map { try decode($0, key: key) }
    }

    /// Stores `record` if the key has none: `INSERT … ON CONFLICT DO NOTHING`, then reads the current record.
    /// - Throws: ``OAuthBroker/BrokerError`` for server failures or an undecodable row.
    public func insert(_ record: TokenRecord, for key: StoreKey) async throws -> InsertOutcome {
        let statement = PostgresStatements.InsertRecord(
            storageID: key.storageID, provider: key.provider.rawValue, tenant: key.tenant.rawValue,
            principal: key.principal.rawValue, scopes: key.scopes.normalized,
            version: Int64(bitPattern: record.version), status: record.status.rawValue, expiresAt: record.expiresAt,
            blob: ByteBuffer(bytes: try codec.encode(record, for: key)))
        // A record deleted between the conflict and the read is inserted on the next round.
        for _ in 0..<16 {
            let inserted = try await perform("inserting a record", key: key) { client in
                try await Self.first(client.execute(statement, logger: self.logger))
            }
            if inserted != nil { return .inserted(record) }
            if let current = try await self.record(for: key) { return .exists(current: current) }
        }
        throw BrokerError(.storeFailed, "insert found the key taken and then gone 16 times in a row", key: key)
    }

    /// Replaces the record if its version is `expected`, storing version `expected + 1`: one
    /// `UPDATE … WHERE version = $2 RETURNING`.
    /// - Throws: ``OAuthBroker/BrokerError`` for server failures or an undecodable row.
    public func compareAndSwap(_ key: StoreKey, expecting expected: UInt64, with new: TokenRecord) async throws
        -> SwapOutcome
    {
        var stored = new
        stored.version = expected &+ 1
        let statement = PostgresStatements.SwapRecord(
            storageID: key.storageID, expected: Int64(bitPattern: expected), version: Int64(bitPattern: stored.version),
            status: stored.status.rawValue, expiresAt: stored.expiresAt,
            blob: ByteBuffer(bytes: try codec.encode(stored, for: key)))
        let swapped = try await perform("compare-and-swap", key: key) { client in
            try await Self.first(client.execute(statement, logger: self.logger))
        }
        if swapped != nil { return .swapped(stored) }
        guard let current = try await record(for: key) else { return .missing }
        return .conflict(current: current)
    }

    /// Sets the status and bumps the version in one transaction that locks the row.
    /// - Throws: ``OAuthBroker/BrokerError`` for server failures or an undecodable row.
    public func setStatus(_ status: TokenRecord.Status, for key: StoreKey) async throws -> TokenRecord? {
        let codec = self.codec
        let logger = self.logger
        return try await transaction("updating a status", key: key) { connection -> TokenRecord? in
            let rows = try await connection.execute(
                PostgresStatements.SelectRecordForUpdate(storageID: key.storageID), logger: logger)
            guard let row = try await Self.first(rows) else { return nil }
            var record = try Self.decode(row, key: key, codec: codec)
            guard record.status != status else { return record }
            let expected = record.version
            record.status = status
            record.version = expected &+ 1
            let statement = PostgresStatements.SwapRecord(
                storageID: key.storageID, expected: Int64(bitPattern: expected),
                version: Int64(bitPattern: record.version), status: status.rawValue, expiresAt: record.expiresAt,
                blob: ByteBuffer(bytes: try codec.encode(record, for: key)))
            guard try await Self.first(connection.execute(statement, logger: logger)) != nil else {
                throw BrokerError(.storeFailed, "a status update of a locked row changed nothing", key: key)
            }
            return record
        }
    }

    /// Deletes the record.
    /// - Returns: Whether a record existed.
    /// - Throws: ``OAuthBroker/BrokerError`` for server failures.
    @discardableResult
    public func deleteRecord(for key: StoreKey) async throws -> Bool {
        let statement = PostgresStatements.DeleteRecord(storageID: key.storageID)
        return try await perform("deleting a record", key: key) { client in
            try await Self.first(client.execute(statement, logger: self.logger)) != nil
        }
    }

    /// Keys in ``OAuthBroker/StoreKey/storageID`` order (`COLLATE "C"`: byte order).
    /// - Throws: ``OAuthBroker/BrokerError`` for server failures or a row whose key does not validate.
    public func keys(tenant: TenantID?) async throws -> [StoreKey] {
        let rows = try await perform("listing keys") { client -> [PostgresStatements.ListKeys.Row] in
            if let tenant {
                let statement = PostgresStatements.ListTenantKeys(tenant: tenant.rawValue)
                return try await Self.all(client.execute(statement, logger: self.logger))
            }
            return try await Self.all(client.execute(PostgresStatements.ListKeys(), logger: self.logger))
        }
        return try rows.map { row in
            guard
                let key = try? StoreKey(
                    provider: row.0, tenant: row.1, principal: row.2,
                    scopes: row.3.split(separator: " ").map(String.init)),
                key.storageID == row.4
            else { throw BrokerError(.storeCorrupted, "a record row's key columns do not form its storage ID") }
            return key
        }
    }

    /// Saves a session (replacing one with the same id) and deletes expired sessions, in one statement.
    /// - Throws: ``OAuthBroker/BrokerError`` for server failures.
    public func saveSession(_ session: AuthorizationSession) async throws {
        let statement = PostgresStatements.SaveSession(
            id: session.id, expiresAt: session.expiresAt, blob: ByteBuffer(bytes: try codec.encode(session)),
            now: now())
        try await perform("saving a session") { client in
            try await Self.drain(client.execute(statement, logger: self.logger))
        }
    }

    /// Removes the session with one `DELETE … RETURNING` and returns it unless it has expired. The delete and the
    /// decoding share a transaction: a session the codec cannot decode (a missing sealing key) is rolled back.
    /// - Throws: ``OAuthBroker/BrokerError`` for server failures or an undecodable session.
    public func takeSession(id: String) async throws -> AuthorizationSession? {
        let codec = self.codec
        let now = self.now
        let logger = self.logger
        return try await transaction("taking a session") { connection -> AuthorizationSession? in
            let rows = try await connection.execute(PostgresStatements.TakeSession(id: id), logger: logger)
            guard let blob = try await Self.first(rows) else { return nil }
            let session = try codec.decodeSession(Array(blob.readableBytesView), id: id)
            return session.isExpired(at: now()) ? nil : session
        }
    }

    /// Re-encodes every unexpired session through the codec in one transaction: all are decoded before any row is
    /// updated, and a session that cannot be decoded rolls the transaction back.
    /// - Returns: How many sessions were re-encoded.
    /// - Throws: ``OAuthBroker/BrokerError`` for server failures or a session the codec cannot decode.
    public func resealSessions() async throws -> Int {
        let codec = self.codec
        let instant = now()
        let logger = self.logger
        return try await transaction("re-sealing sessions") { connection in
            let rows = try await Self.all(
                connection.execute(PostgresStatements.SelectLiveSessions(now: instant), logger: logger))
            let blobs = try rows.map { try codec.encode(codec.decodeSession(Array($0.1.readableBytesView), id: $0.0)) }
            for (row, blob) in zip(rows, blobs) {
                let statement = PostgresStatements.UpdateSessionBlob(id: row.0, blob: ByteBuffer(bytes: blob))
                try await Self.drain(connection.execute(statement, logger: logger))
            }
            return rows.count
        }
    }

    /// Deletes sessions expired at `instant`.
    /// - Returns: How many were deleted.
    /// - Throws: ``OAuthBroker/BrokerError`` for server failures.
    @discardableResult
    public func purgeExpiredSessions(before instant: Date) async throws -> Int {
        let statement = PostgresStatements.PurgeSessions(instant: instant)
        return try await perform("purging sessions") { client in
            try await Self.all(client.execute(statement, logger: self.logger)).count
        }
    }

    /// Takes or renews the lease with one conditional upsert, timed by the server's `clock_timestamp()`: it
    /// succeeds when the lease is free, expired, or already `owner`'s.
    /// - Throws: ``OAuthBroker/BrokerError`` for server failures.
    public func acquireRefreshLease(for key: StoreKey, owner: LeaseOwner, ttl: Duration) async throws -> Bool {
        let components = ttl.components
        let micros = components.seconds * 1_000_000 + components.attoseconds / 1_000_000_000_000
        let statement = PostgresStatements.AcquireLease(
            storageID: key.storageID, owner: owner.rawValue, ttlMicroseconds: max(0, micros))
        return try await perform("taking a refresh lease", key: key) { client in
            try await Self.first(client.execute(statement, logger: self.logger)) != nil
        }
    }

    /// Releases the lease if `owner` holds it.
    /// - Throws: ``OAuthBroker/BrokerError`` for server failures.
    public func releaseRefreshLease(for key: StoreKey, owner: LeaseOwner) async throws {
        let statement = PostgresStatements.ReleaseLease(storageID: key.storageID, owner: owner.rawValue)
        try await perform("releasing a refresh lease", key: key) { client in
            try await Self.drain(client.execute(statement, logger: self.logger))
        }
    }

    // MARK: Helpers

    func decode(_ row: (Int64, ByteBuffer), key: StoreKey) throws -> TokenRecord {
        try Self.decode(row, key: key, codec: codec)
    }

    /// Decodes a row's blob and checks it against the row's version column.
    static func decode(_ row: (Int64, ByteBuffer), key: StoreKey, codec: any StoreCodec) throws -> TokenRecord {
        let record = try codec.decodeRecord(Array(row.1.readableBytesView), for: key)
        guard record.version == UInt64(bitPattern: row.0) else {
            throw BrokerError(.storeCorrupted, "a record row's version disagrees with its blob", key: key)
        }
        return record
    }

    /// The first row (reading the rest, so the connection returns to the pool).
    static func first<Rows: AsyncSequence>(_ rows: Rows) async throws -> Rows.Element? {
        var first: Rows.Element?
        for try await row in rows where first == nil { first = row }
        return first
    }

    /// Every row.
    static func all<Rows: AsyncSequence>(_ rows: Rows) async throws -> [Rows.Element] {
        var all: [Rows.Element] = []
        for try await row in rows { all.append(row) }
        return all
    }

    /// Reads every row, dropping them.
    static func drain<Rows: AsyncSequence>(_ rows: Rows) async throws {
        for try await _ in rows {}
    }
}
