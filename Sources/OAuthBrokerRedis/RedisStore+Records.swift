import Foundation
public import OAuthBroker

extension RedisStore {
    /// The record for `key`, or `nil`: one `HMGET`.
    /// - Parameter key: The record's key.
    /// - Returns: The record, or `nil` if there is none.
    /// - Throws: ``OAuthBroker/BrokerError``: ``OAuthBroker/BrokerError/Code/storeUnavailable`` when Redis cannot
    ///   be reached, ``OAuthBroker/BrokerError/Code/storeCorrupted`` when the stored data cannot be decoded.
    public func record(for key: StoreKey) async throws -> TokenRecord? {
        let name = layout.record(key)
        let reply = try await pool.run { connection in
            try connection.command(
                [Array("HMGET".utf8), name, Array("version".utf8), Array("status".utf8), Array("record".utf8)])
        }
        guard let fields = reply.array, fields.count == 3 else { throw unexpected(reply, during: "HMGET", key: key) }
        if fields.allSatisfy(\.isNull) {
            guard key.hasLegacyStorageID, try await moveLegacyRecord(of: key) else { return nil }
            return try await record(for: key)
        }
        return try decodeStored(fields[...], key: key)
    }

    /// Moves the record an earlier release stored under the key's ``OAuthBroker/StoreKey/legacyStorageID`` (a key
    /// with non-ASCII components, escaped per `Character`) to its byte-exact name, with `RENAMENX`, so the move is
    /// atomic and never replaces a record already under the new name. The legacy hash's `key` field must be this
    /// key, byte for byte: a hash another key's components happened to name is left alone.
    /// - Returns: Whether a record now sits under the new name.
    private func moveLegacyRecord(of key: StoreKey) async throws -> Bool {
        let legacy = layout.legacyRecord(key)
        let name = layout.record(key)
        let field = try await pool.run { try $0.command([Array("HGET".utf8), legacy, Array("key".utf8)]) }
        guard let json = field.bytes, try Self.decodeKey(json) == key else { return false }
        // Whatever RENAMENX answers (1: moved; 0: a record is already under the new name; an error: another
        // process moved it first), the caller reads the new name again; the legacy hash is then gone or ignored.
        _ = try await pool.run { try $0.command([Array("RENAMENX".utf8), legacy, name]) }
        return true
    }

    /// Stores `record` under `key` if the key has none, atomically (the `insert` Lua script).
    /// - Parameters:
    ///   - record: The record, stored with its version as given.
    ///   - key: Where to store it.
    /// - Returns: `.inserted(record)`, or `.exists(current:)` with the record already there.
    /// - Throws: ``OAuthBroker/BrokerError`` (``OAuthBroker/BrokerError/Code/storeUnavailable``,
    ///   ``OAuthBroker/BrokerError/Code/storeCorrupted``, ``OAuthBroker/BrokerError/Code/storeFailed``).
    public func insert(_ record: TokenRecord, for key: StoreKey) async throws -> InsertOutcome {
        let arguments = [
            try Self.encodeKey(key), try codec.encode(record, for: key), Array(String(record.version).utf8),
            Array(record.status.rawValue.utf8),
        ]
        let name = layout.record(key)
        let reply = try await pool.run { connection in
            try RedisScripts.insert.run(on: connection, keys: [name], arguments: arguments, key: key)
        }
        guard let elements = reply.array, let tag = elements.first?.integer else {
            throw unexpected(reply, during: "the insert script", key: key)
        }
        switch tag {
        case 1 where elements.count == 1: return .inserted(record)
        case 0 where elements.count == 4: return .exists(current: try decodeStored(elements[1...], key: key))
        default: throw unexpected(reply, during: "the insert script", key: key)
        }
    }

    /// Replaces the record if its version is `expected`, atomically (the `compare-and-swap` Lua script); the
    /// stored record gets version `expected + 1`. Versions are compared as decimal strings inside Redis.
    /// - Parameters:
    ///   - key: The record's key.
    ///   - expected: The version the caller read.
    ///   - new: The record to store (its `version` is replaced by `expected + 1`).
    /// - Returns: `.swapped(stored)`, `.conflict(current:)` or `.missing`.
    /// - Throws: ``OAuthBroker/BrokerError`` (``OAuthBroker/BrokerError/Code/storeUnavailable``,
    ///   ``OAuthBroker/BrokerError/Code/storeCorrupted``, ``OAuthBroker/BrokerError/Code/storeFailed``).
    public func compareAndSwap(_ key: StoreKey, expecting expected: UInt64, with new: TokenRecord) async throws
        -> SwapOutcome
    {
        var stored = new
        stored.version = expected &+ 1
        let arguments = [
            Array(String(expected).utf8), Array(String(stored.version).utf8), try codec.encode(stored, for: key),
            Array(stored.status.rawValue.utf8),
        ]
        let name = layout.record(key)
        let reply = try await pool.run { connection in
            try RedisScripts.compareAndSwap.run(on: connection, keys: [name], arguments: arguments, key: key)
        }
        guard let elements = reply.array, let tag = elements.first?.integer else {
            throw unexpected(reply, during: "the compare-and-swap script", key: key)
        }
        switch tag {
        case 2 where elements.count == 1: return .swapped(stored)
        case 1 where elements.count == 4: return .conflict(current: try decodeStored(elements[1...], key: key))
        case 0 where elements.count == 1: return .missing
        default: throw unexpected(reply, during: "the compare-and-swap script", key: key)
        }
    }

    /// Sets the record's status and bumps its version in one step (the `set-status` Lua script), after reading
    /// the record once so that a record the codec cannot decode is left unchanged. A record that already has
    /// `status` is returned unchanged. The blob itself is not rewritten (its version and status are authoritative
    /// in their own fields), so a status change does not re-seal it under a newer key.
    /// - Parameters:
    ///   - status: The new status.
    ///   - key: The record's key.
    /// - Returns: The updated record, or `nil` if there is none.
    /// - Throws: ``OAuthBroker/BrokerError`` (``OAuthBroker/BrokerError/Code/storeUnavailable``,
    ///   ``OAuthBroker/BrokerError/Code/storeCorrupted``, ``OAuthBroker/BrokerError/Code/storeFailed``).
    public func setStatus(_ status: TokenRecord.Status, for key: StoreKey) async throws -> TokenRecord? {
        // The script does not decode the blob: check first that the codec can, so a record sealed under a missing
        // key is not changed.
        guard try await record(for: key) != nil else { return nil }
        let name = layout.record(key)
        let arguments = [Array(status.rawValue.utf8)]
        let reply = try await pool.run { connection in
            try RedisScripts.setStatus.run(on: connection, keys: [name], arguments: arguments, key: key)
        }
        guard let elements = reply.array, let tag = elements.first?.integer else {
            throw unexpected(reply, during: "the set-status script", key: key)
        }
        switch tag {
        case 1 where elements.count == 4: return try decodeStored(elements[1...], key: key)
        case 0 where elements.count == 1: return nil
        case 2: throw BrokerError(.storeCorrupted, "the stored record's version is not a decimal number", key: key)
        default: throw unexpected(reply, during: "the set-status script", key: key)
        }
    }

    /// Deletes the record (`DEL`); its lease, if any, is left to expire.
    /// - Parameter key: The record's key.
    /// - Returns: Whether a record existed.
    /// - Throws: ``OAuthBroker/BrokerError`` (``OAuthBroker/BrokerError/Code/storeUnavailable``).
    @discardableResult
    public func deleteRecord(for key: StoreKey) async throws -> Bool {
        let name = layout.record(key)
        let reply = try await pool.run { try $0.command([Array("DEL".utf8), name]) }
        guard let deleted = reply.integer else { throw unexpected(reply, during: "DEL", key: key) }
        return deleted > 0
    }

    /// The keys of all records (or one tenant's), in ``OAuthBroker/StoreKey/storageID`` order.
    ///
    /// Walks the keyspace with `SCAN … MATCH … COUNT` ``Configuration/scanCount`` (never `KEYS`), and reads each
    /// match's `key` field in one pipelined batch per page. A key written during the scan may or may not appear.
    /// - Parameter tenant: Only this tenant's keys, or `nil` for all.
    /// - Returns: The keys, sorted by the UTF-8 bytes of their storage IDs.
    /// - Throws: ``OAuthBroker/BrokerError`` (``OAuthBroker/BrokerError/Code/storeUnavailable``,
    ///   ``OAuthBroker/BrokerError/Code/storeCorrupted`` for a `key` field that does not match its Redis key).
    public func keys(tenant: TenantID?) async throws -> [StoreKey] {
        var found: [String: StoreKey] = [:]
        for pattern in layout.recordPatterns(tenant: tenant) {
            try await scanKeys(matching: pattern, tenant: tenant, into: &found)
        }
        return found.values.sorted { $0.storageID.utf8.lexicographicallyPrecedes($1.storageID.utf8) }
    }

    /// One full `SCAN` for `pattern`, adding the decoded keys of `tenant` (or all) to `found` by storage ID.
    private func scanKeys(matching pattern: [UInt8], tenant: TenantID?, into found: inout [String: StoreKey])
        async throws
    {
        let count = Array(String(configuration.scanCount).utf8)
        var cursor: [UInt8] = Array("0".utf8)
        // SCAN always ends (cursor 0); the bound only guards against a misbehaving server.
        for _ in 0..<10_000_000 {
            let page = try await scanPage(cursor: cursor, pattern: pattern, count: count)
            for (name, field) in page.entries {
                guard let json = field.bytes else {
                    if field.isNull { continue }  // deleted between SCAN and HGET
                    throw unexpected(field, during: "HGET key")
                }
                let key = try Self.decodeKey(json)
                // A name of this release, or one an earlier release gave a key with non-ASCII components.
                guard let id = layout.storageID(inRecordKey: name),
                    id.utf8.elementsEqual(key.storageID.utf8)
                        || (key.hasLegacyStorageID && id.utf8.elementsEqual(key.legacyStorageID.utf8))
                else {
                    throw BrokerError(
                        .storeCorrupted, "a record hash's key field does not match its Redis key", key: key)
                }
                if tenant == nil || key.tenant == tenant { found[key.storageID] = key }
            }
            cursor = page.cursor
            if cursor == Array("0".utf8) { return }
        }
        throw BrokerError(.storeFailed, "SCAN did not finish")
    }

    private struct ScanPage: Sendable {
        var cursor: [UInt8]
        var entries: [([UInt8], RedisReply)]
    }

    /// One `SCAN` call plus a pipelined `HGET <name> key` per match, in one hop to the connection.
    private func scanPage(cursor: [UInt8], pattern: [UInt8], count: [UInt8]) async throws -> ScanPage {
        try await pool.run { connection -> ScanPage in
            let scan = try connection.command(
                [Array("SCAN".utf8), cursor, Array("MATCH".utf8), pattern, Array("COUNT".utf8), count])
            guard let parts = scan.array, parts.count == 2, let next = parts[0].bytes, let names = parts[1].array
            else { throw self.unexpected(scan, during: "SCAN") }
            let nameBytes = names.compactMap(\.bytes)
            guard !nameBytes.isEmpty else { return ScanPage(cursor: next, entries: []) }
            let fields = try connection.pipeline(nameBytes.map { [Array("HGET".utf8), $0, Array("key".utf8)] })
            return ScanPage(cursor: next, entries: Array(zip(nameBytes, fields)))
        }
    }

    // MARK: - Encoding

    /// Decodes `version`, `status`, `record` fields: the blob through the codec, then the authoritative version and
    /// status from their own fields.
    func decodeStored(_ fields: ArraySlice<RedisReply>, key: StoreKey) throws -> TokenRecord {
        let values = Array(fields)
        guard values.count == 3, let versionText = values[0].string, let version = UInt64(versionText),
            let status = values[1].string, let blob = values[2].bytes
        else {
            throw BrokerError(
                .storeCorrupted, "the stored record hash is incomplete or its version is not a number", key: key)
        }
        var record = try codec.decodeRecord(blob, for: key)
        record.version = version
        record.status = TokenRecord.Status(rawValue: status)
        return record
    }

    static func encodeKey(_ key: StoreKey) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        do { return Array(try encoder.encode(key)) } catch {
            throw BrokerError(.storeFailed, "the store key could not be encoded", key: key)
        }
    }

    static func decodeKey(_ bytes: [UInt8]) throws -> StoreKey {
        do { return try JSONDecoder().decode(StoreKey.self, from: Data(bytes)) } catch {
            throw BrokerError(.storeCorrupted, "a record hash's key field is not a valid store key")
        }
    }
}
