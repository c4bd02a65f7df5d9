import Foundation
import OAuthBroker
import OAuthBrokerRedis
import OAuthBrokerTesting
import Testing

@Suite("RedisStore on the shared server", .enabled(if: RedisTestEnvironment.hasServer, "needs OAUTH_BROKER_REDIS_URL"))
struct RedisStoreTests {
    static func key(tenant: String = "tenant-\(UInt32.random(in: 0...UInt32.max))", principal: String = "user")
        throws -> StoreKey
    {
        try StoreKey(provider: "acme", tenant: tenant, principal: principal, scopes: ["read"])
    }

    static func record(_ tag: String = "x", version: UInt64 = TokenRecord.initialVersion(at: Date())) -> TokenRecord {
        TokenRecord(
            accessToken: Secret("at-\(tag)"), refreshToken: Secret("rt-\(tag)"), scopes: ["read"],
            issuedAt: Date(timeIntervalSince1970: 1_800_000_000), expiresAt: Date(timeIntervalSince1970: 1_800_003_600),
            version: version)
    }

    @Test("a codec blob containing NUL bytes round-trips (binary-safe commands)")
    func binarySafeValues() async throws {
        let store = try RedisTestEnvironment.store(codec: NULFramingCodec())
        let key = try Self.key()
        var record = Self.record()
        record.accessToken = Secret("a\u{0}b\u{0}")
        #expect(try await store.insert(record, for: key) == .inserted(record))
        #expect(try await store.record(for: key) == record)

        // The bytes in Redis really hold NULs, and survived whole.
        let stored = try #require(try await store.command("HGET", store.recordKeyName(key), "record").bytes)
        #expect(stored.first == 0 && stored.last == 0)
        #expect(stored.filter { $0 == 0 }.count >= 2)

        let session = AuthorizationSession(
            state: Secret("state-\u{0}-x"), codeVerifier: Secret("verifier"), redirectURI: "https://app/cb", key: key,
            createdAt: Date(), expiresAt: Date().addingTimeInterval(300))
        try await store.saveSession(session)
        #expect(try await store.takeSession(id: session.id) == session)

        // A raw value with NULs in the middle.
        let raw: [UInt8] = [0x61, 0x00, 0x62, 0x00, 0xFF, 0x00]
        let name = Array("\(store.configuration.keyPrefix)raw\u{0}key".utf8)
        #expect(try await store.command([Array("SET".utf8), name, raw]) == .status("OK"))
        #expect(try await store.command([Array("GET".utf8), name]) == .bulk(raw))
        #expect(try await store.command([Array("STRLEN".utf8), name]) == .integer(6))
        try await store.deleteAllKeysUnderPrefix()
    }

    @Test("SCAN listing walks many pages and filters tenants exactly")
    func scanListingManyPages() async throws {
        let store = try RedisTestEnvironment.store { $0.scanCount = 5 }
        let tenant = "tenant-\(UInt32.random(in: 0...UInt32.max))"
        var tenantKeys: [StoreKey] = []
        for index in 0..<57 {
            tenantKeys.append(try Self.key(tenant: tenant, principal: "user-\(index)"))
        }
        // Same spelling as the tenant, but as a principal: the MATCH pattern matches it, the filter must drop it.
        let decoy = try Self.key(tenant: "other-\(UInt32.random(in: 0...UInt32.max))", principal: tenant)
        for key in tenantKeys + [decoy] { _ = try await store.insert(Self.record(), for: key) }

        let listed = try await store.keys(tenant: tenantKeys[0].tenant)
        let byStorageID = { (lhs: StoreKey, rhs: StoreKey) in
            lhs.storageID.utf8.lexicographicallyPrecedes(rhs.storageID.utf8)
        }
        #expect(listed.count == 57)
        #expect(listed == tenantKeys.sorted(by: byStorageID))
        #expect(!listed.contains(decoy))
        let all = try await store.keys(tenant: nil)
        #expect(all == (tenantKeys + [decoy]).sorted(by: byStorageID))
        try await store.deleteAllKeysUnderPrefix()
    }

    @Test("versions above 2^53 compare exactly; status bumps use decimal arithmetic")
    func largeVersions() async throws {
        let store = try RedisTestEnvironment.store()
        let key = try Self.key()
        let big: UInt64 = (1 << 53) + 1  // not representable as a double
        _ = try await store.insert(Self.record(version: big), for: key)
        // 2^53 rounds to the same double as 2^53 + 1: a numeric compare in Lua would accept it.
        guard case .conflict(let current) = try await store.compareAndSwap(key, expecting: 1 << 53, with: Self.record())
        else {
            Issue.record("a stale version that only differs past double precision was accepted")
            return
        }
        #expect(current.version == big)
        guard case .swapped(let swapped) = try await store.compareAndSwap(key, expecting: big, with: Self.record("y"))
        else {
            Issue.record("the exact version was refused")
            return
        }
        #expect(swapped.version == big + 1)
        let revoked = try #require(try await store.setStatus(.revoked, for: key))
        #expect(revoked.version == big + 2)
        #expect(revoked.status == .revoked)
        #expect(revoked.accessToken == Secret("at-y"))
        #expect(try await store.record(for: key) == revoked)

        // The carry runs through every digit.
        let nines = try Self.key()
        _ = try await store.insert(Self.record(version: 9_999_999_999_999_999_999), for: nines)
        let bumped = try #require(try await store.setStatus(.needsReauthorization, for: nines))
        #expect(bumped.version == 10_000_000_000_000_000_000)
        #expect(try await store.command("HGET", store.recordKeyName(nines), "version").string == "10000000000000000000")
        // Setting the same status again changes nothing.
        #expect(try await store.setStatus(.needsReauthorization, for: nines)?.version == 10_000_000_000_000_000_000)
        try await store.deleteAllKeysUnderPrefix()
    }

    @Test("key layout: a hash per record, lease and record share a hash tag, sessions expire by TTL")
    func keyLayout() async throws {
        let store = try RedisTestEnvironment.store()
        let key = try StoreKey(provider: "acme", tenant: "t", principal: "odd}principal{", scopes: ["read"])
        _ = try await store.insert(Self.record(), for: key)
        let recordName = store.recordKeyName(key)
        #expect(recordName == "\(store.configuration.keyPrefix)record:{\(key.storageID)}")
        #expect(try await store.command("TYPE", recordName) == .status("hash"))
        let fields = try #require(try await store.command("HKEYS", recordName).array).compactMap(\.string)
        #expect(Set(fields) == ["key", "record", "version", "status"])
        let keyJSON = try #require(try await store.command("HGET", recordName, "key").bytes)
        #expect(try JSONDecoder().decode(StoreKey.self, from: Data(keyJSON)) == key)

        let owner = LeaseOwner.random()
        #expect(try await store.acquireRefreshLease(for: key, owner: owner, ttl: .seconds(30)))
        let leaseName = store.leaseKeyName(key)
        #expect(try await store.command("GET", leaseName).string == owner.rawValue)
        let leaseTTL = try #require(try await store.command("PTTL", leaseName).integer)
        #expect(leaseTTL > 0 && leaseTTL <= 30_000)
        #expect(Self.hashTag(recordName) == Self.hashTag(leaseName))
        #expect(Self.hashTag(recordName) == "\(key.storageID.prefix { $0 != "}" })")

        let session = AuthorizationSession(
            state: Secret("s-\(UInt64.random(in: 0...UInt64.max))"), codeVerifier: Secret("v"),
            redirectURI: "https://app/cb", key: key, createdAt: Date(), expiresAt: Date().addingTimeInterval(90))
        try await store.saveSession(session)
        let sessionTTL = try #require(try await store.command("PTTL", store.sessionKeyName(session.id)).integer)
        #expect(sessionTTL > 0 && sessionTTL <= 90_000)
        #expect(try await store.command("ZSCORE", store.sessionIndexKeyName, session.id).string != nil)
        _ = try await store.takeSession(id: session.id)
        #expect(try await store.command("EXISTS", store.sessionKeyName(session.id)) == .integer(0))
        #expect(try await store.command("ZSCORE", store.sessionIndexKeyName, session.id) == .null)

        // An already expired session is not stored at all.
        let expired = AuthorizationSession(
            state: Secret("e-\(UInt64.random(in: 0...UInt64.max))"), codeVerifier: Secret("v"),
            redirectURI: "https://app/cb", key: key, createdAt: Date(), expiresAt: Date().addingTimeInterval(-1))
        try await store.saveSession(expired)
        #expect(try await store.command("EXISTS", store.sessionKeyName(expired.id)) == .integer(0))
        try await store.deleteAllKeysUnderPrefix()
    }

    @Test("the store's clock decides session expiry")
    func sessionClock() async throws {
        let configuration = try RedisTestEnvironment.configuration()
        let late = try RedisStore(configuration: configuration, now: { Date().addingTimeInterval(3600) })
        let onTime = try RedisStore(configuration: configuration)
        let session = AuthorizationSession(
            state: Secret("s-\(UInt64.random(in: 0...UInt64.max))"), codeVerifier: Secret("v"),
            redirectURI: "https://app/cb", key: try Self.key(), createdAt: Date(),
            expiresAt: Date().addingTimeInterval(1800))
        // Saved by a correct clock, taken by a clock past the expiry: not returned (and gone, single use).
        try await onTime.saveSession(session)
        #expect(try await late.takeSession(id: session.id) == nil)
        #expect(try await onTime.takeSession(id: session.id) == nil)
        // Saved by a clock past the expiry: not stored at all.
        try await late.saveSession(session)
        #expect(try await onTime.command("EXISTS", onTime.sessionKeyName(session.id)) == .integer(0))
        try await onTime.saveSession(session)
        #expect(try await onTime.takeSession(id: session.id) == session)
        try await onTime.deleteAllKeysUnderPrefix()
    }

    @Test("corrupt stored data throws storeCorrupted and is kept")
    func corruptData() async throws {
        let store = try RedisTestEnvironment.store()
        let key = try Self.key()
        _ = try await store.insert(Self.record(), for: key)
        let name = store.recordKeyName(key)
        _ = try await store.command("HSET", name, "record", "not a record")
        await #expect(throws: BrokerError.storeCorrupted) { try await store.record(for: key) }
        #expect(try await store.command("HGET", name, "record").string == "not a record")
        _ = try await store.command("HSET", name, "version", "12x")
        await #expect(throws: BrokerError.storeCorrupted) { try await store.setStatus(.revoked, for: key) }
        try await store.deleteAllKeysUnderPrefix()
    }

    @Test("a connection the server closed is dropped and replaced without a failed operation")
    func deadConnectionReplaced() async throws {
        let name = "oauth-broker-test-\(UInt32.random(in: 0...UInt32.max))"
        let store = try RedisTestEnvironment.store {
            $0.poolSize = 1
            $0.clientName = name
        }
        let admin = try RedisTestEnvironment.store()
        let key = try Self.key()
        _ = try await store.insert(Self.record(), for: key)
        #expect(await store.connectionsOpened == 1)

        let killed = try await admin.command("CLIENT", "KILL", "ID", Self.clientID(named: name, via: admin))
        #expect(killed == .integer(1))
        // The next operation notices the closed socket, reconnects, and succeeds.
        #expect(try await store.record(for: key) != nil)
        #expect(await store.connectionsOpened == 2)
        #expect(try await Self.clientIDs(named: name, via: admin).count == 1)
        try await store.deleteAllKeysUnderPrefix()
    }

    @Test("the pool serves many concurrent operations with at most poolSize connections")
    func boundedPool() async throws {
        let name = "oauth-broker-test-\(UInt32.random(in: 0...UInt32.max))"
        let store = try RedisTestEnvironment.store {
            $0.poolSize = 3
            $0.clientName = name
        }
        let key = try Self.key()
        _ = try await store.insert(Self.record(), for: key)
        let results = try await withThrowingTaskGroup(of: Bool.self) { group in
            for _ in 0..<200 { group.addTask { try await store.record(for: key) != nil } }
            return try await group.reduce(into: [Bool]()) { $0.append($1) }
        }
        #expect(results.count == 200 && results.allSatisfy { $0 })
        #expect(await store.connectionsOpened <= 3)
        let admin = try RedisTestEnvironment.store()
        #expect(try await Self.clientIDs(named: name, via: admin).count <= 3)
        await store.shutdown()
        await #expect(throws: BrokerError.storeFailed) { try await store.record(for: key) }
        try await admin.deleteAllKeysUnderPrefix()
    }

    // MARK: - Helpers

    /// Redis Cluster's hash tag rule: the text between the first `{` and the first `}` after it, if not empty.
    static func hashTag(_ name: String) -> String? {
        guard let open = name.firstIndex(of: "{") else { return nil }
        let rest = name[name.index(after: open)...]
        guard let close = rest.firstIndex(of: "}"), close != rest.startIndex else { return nil }
        return String(rest[..<close])
    }

    static func clientIDs(named name: String, via admin: RedisStore) async throws -> [String] {
        let list = try #require(try await admin.command("CLIENT", "LIST", "TYPE", "normal").string)
        return list.split(separator: "\n").compactMap { line -> String? in
            let fields = line.split(separator: " ")
            guard fields.contains(Substring("name=\(name)")) else { return nil }
            return fields.first { $0.hasPrefix("id=") }.map { String($0.dropFirst(3)) }
        }
    }

    static func clientID(named name: String, via admin: RedisStore) async throws -> String {
        let ids = try await clientIDs(named: name, via: admin)
        try #require(ids.count == 1, "expected one connection named \(name), found \(ids.count)")
        return ids[0]
    }
}

/// A codec whose blobs start and end with NUL and have NULs inside: proves the store is binary-safe.
struct NULFramingCodec: StoreCodec {
    let inner = JSONStoreCodec()

    func encode(_ record: TokenRecord, for key: StoreKey) throws -> [UInt8] {
        frame(try inner.encode(record, for: key))
    }
    func decodeRecord(_ bytes: [UInt8], for key: StoreKey) throws -> TokenRecord {
        try inner.decodeRecord(unframe(bytes), for: key)
    }
    func encode(_ session: AuthorizationSession) throws -> [UInt8] { frame(try inner.encode(session)) }
    func decodeSession(_ bytes: [UInt8], id: String) throws -> AuthorizationSession {
        try inner.decodeSession(unframe(bytes), id: id)
    }

    /// NUL, 0xFF, then each JSON byte followed by NUL, then NUL.
    private func frame(_ bytes: [UInt8]) -> [UInt8] { [0, 0xFF] + bytes.flatMap { [$0, 0] } + [0] }

    private func unframe(_ bytes: [UInt8]) throws -> [UInt8] {
        guard bytes.count >= 3, bytes[0] == 0, bytes[1] == 0xFF, bytes.last == 0, (bytes.count - 3) % 2 == 0 else {
            throw BrokerError(.storeCorrupted, "bad framing")
        }
        let body = bytes[2..<(bytes.count - 1)]
        return stride(from: body.startIndex, to: body.endIndex, by: 2).map { body[$0] }
    }
}

@Suite("RedisStore legacy storage IDs", .enabled(if: RedisTestEnvironment.hasServer))
struct RedisLegacyStorageIDTests {
    @Test("a record an earlier release filed under a legacy name is listed, read, and moved to the byte-exact name")
    func movesLegacyRecordOnRead() async throws {
        let store = try RedisTestEnvironment.store()
        let key = try StoreKey(provider: "p", tenant: "t\u{FC}r", principal: "jos\u{E9}", scopes: ["a"])
        let record = TokenRecord(
            accessToken: Secret("at-legacy"), refreshToken: Secret("rt-legacy"), issuedAt: Date(),
            expiresAt: Date().addingTimeInterval(3600), version: 1 << 40)
        _ = try await store.insert(record, for: key)
        let prefix = store.configuration.keyPrefix
        let name = Array("\(prefix)record:{\(key.storageID)}".utf8)
        let legacy = Array("\(prefix)record:{\(key.legacyStorageID)}".utf8)
        #expect(try await !isRedisError(store.command([Array("RENAME".utf8), name, legacy])))

        #expect(try await store.keys(tenant: key.tenant) == [key], "a legacy record is not listed")
        #expect(try await store.record(for: key) == record, "a legacy record is not read")
        #expect(try await store.command([Array("EXISTS".utf8), name]).integer == 1)
        #expect(try await store.command([Array("EXISTS".utf8), legacy]).integer == 0)

        // A legacy hash that holds another key is never taken over.
        let other = try StoreKey(provider: "p", tenant: "t\u{FC}r", principal: "jos\u{E9}", scopes: ["b"])
        let otherLegacy = Array("\(prefix)record:{\(other.legacyStorageID)}".utf8)
        #expect(try await !isRedisError(store.command([Array("RENAME".utf8), name, otherLegacy])))
        #expect(try await store.record(for: other) == nil)
        #expect(try await store.command([Array("EXISTS".utf8), otherLegacy]).integer == 1)
        try await store.deleteAllKeysUnderPrefix()
    }
}

private func isRedisError(_ reply: RedisReply) -> Bool {
    if case .error = reply { return true }
    return false
}
