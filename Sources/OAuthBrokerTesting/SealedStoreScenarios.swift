import Foundation
package import OAuthBroker

/// What a durable store must do under a ``OAuthBroker/SealingStoreCodec``, checked against the store's raw bytes:
/// no token or verifier readable at rest, a blob moved to another key fails, two-key rotation, a missing key id
/// changes nothing, and plain format-1 records are still read (and sealed when re-sealed).
///
/// The store test targets run it against `FileStore`, `SQLiteStore` and `RedisStore`; the closures reach behind
/// the store's back. The scenarios run one after another on one store location and clean up what they write.
package struct SealedStoreScenarios: Sendable {
    /// Opens the store location with `codec` (a new instance each call, the same data).
    let makeStore: @Sendable (any StoreCodec) async throws -> any ResealableStore
    /// Every byte the store holds (a file, every row, every value), to grep.
    let snapshot: @Sendable () async throws -> [UInt8]
    /// Every record and session blob as stored (base64 undone where the store encodes blobs so).
    let blobs: @Sendable () async throws -> [[UInt8]]
    /// Copies the record blob stored under the first key over the second key's, behind the store's back.
    let copyRecordBlob: @Sendable (StoreKey, StoreKey) async throws -> Void

    /// Creates the scenarios for one store location.
    package init(
        makeStore: @escaping @Sendable (any StoreCodec) async throws -> any ResealableStore,
        snapshot: @escaping @Sendable () async throws -> [UInt8],
        blobs: @escaping @Sendable () async throws -> [[UInt8]],
        copyRecordBlob: @escaping @Sendable (StoreKey, StoreKey) async throws -> Void
    ) {
        self.makeStore = makeStore
        self.snapshot = snapshot
        self.blobs = blobs
        self.copyRecordBlob = copyRecordBlob
    }

    /// Runs every scenario, in order.
    /// - Throws: ``StoreConformance/Failure`` naming the scenario and what went wrong.
    package func run() async throws {
        let keyA = try SealingStoreCodec.Key.random(id: "key-a")
        let keyB = try SealingStoreCodec.Key.random(id: "key-b")
        let unconfigured = try SealingStoreCodec.Key.random(id: "key-unconfigured")
        let scenarios: [(String, () async throws -> Void)] = [
            ("no plaintext at rest", { try await noPlaintextAtRest(keyA) }),
            ("a moved blob fails", { try await movedBlobFails(keyA) }),
            ("a missing key changes nothing", { try await missingKeyChangesNothing(unconfigured, keyA) }),
            ("plain records are still read", { try await plainRecordsStillRead(keyA) }),
            ("rotation with two keys", { try await rotation(old: keyA, new: keyB) }),
        ]
        for (name, scenario) in scenarios {
            do { try await scenario() } catch let mismatch as Mismatch {
                throw StoreConformance.Failure(check: name, message: mismatch.message, line: mismatch.line)
            } catch {
                throw StoreConformance.Failure(check: name, message: "the store threw: \(error)", line: #line)
            }
        }
    }

    // MARK: Scenarios

    private func noPlaintextAtRest(_ key: SealingStoreCodec.Key) async throws {
        let store = try await makeStore(SealingStoreCodec(keys: [key]))
        let fixture = try Fixture()
        let secrets = try await fixture.write(to: store)
        let raw = try await snapshot()
        let stored = try await blobs()
        for secret in secrets {
            try expect(!Self.contains(raw, secret), "a sealed store's raw bytes contain a token or verifier")
            try expect(!stored.contains { Self.contains($0, secret) }, "a sealed blob contains a token or verifier")
        }
        // The same writes through the plain codec are readable in the blobs: the grep above can fail.
        let plain = try await makeStore(JSONStoreCodec())
        let control = try Fixture()
        let plainSecrets = try await control.write(to: plain)
        let plainBlobs = try await blobs()
        // (The first access token was replaced by the compare-and-swap: it is the only one not stored any more.)
        for secret in plainSecrets.dropFirst() {
            try expect(plainBlobs.contains { Self.contains($0, secret) }, "the grep does not find plain tokens")
        }
        try await fixture.remove(from: store)
        try await control.remove(from: plain)
    }

    private func movedBlobFails(_ key: SealingStoreCodec.Key) async throws {
        let store = try await makeStore(SealingStoreCodec(keys: [key]))
        let tenant = try TenantID("sealed-" + ConformanceFixtures.randomHex())
        let victim = try ConformanceFixtures.key(tenant: tenant, principal: "victim")
        let attacker = try ConformanceFixtures.key(tenant: tenant, principal: "attacker")
        _ = try await store.insert(ConformanceFixtures.record("victim"), for: victim)
        _ = try await store.insert(ConformanceFixtures.record("attacker"), for: attacker)
        try await copyRecordBlob(victim, attacker)
        do {
            let record = try await store.record(for: attacker)
            throw Mismatch(message: "a blob moved to another key opened (\(record.map(\.version) ?? 0))", line: #line)
        } catch let error as BrokerError {
            try expect(error.code == .storeCorrupted, "a moved blob threw \(error.code), expected store_corrupted")
        }
        try await store.deleteRecord(for: victim)
        try await store.deleteRecord(for: attacker)
    }

    private func missingKeyChangesNothing(_ sealing: SealingStoreCodec.Key, _ other: SealingStoreCodec.Key)
        async throws
    {
        let writer = try await makeStore(SealingStoreCodec(keys: [sealing]))
        let fixture = try Fixture()
        _ = try await fixture.write(to: writer)
        let before = try await snapshot()
        let reader = try await makeStore(SealingStoreCodec(keys: [other]))
        let operations: [(String, () async throws -> Void)] = [
            ("record(for:)", { _ = try await reader.record(for: fixture.key) }),
            ("insert", { _ = try await reader.insert(ConformanceFixtures.record(), for: fixture.key) }),
            (
                "compareAndSwap",
                { _ = try await reader.compareAndSwap(fixture.key, expecting: 1, with: fixture.record) }
            ),
            ("setStatus", { _ = try await reader.setStatus(.revoked, for: fixture.key) }),
            ("takeSession", { _ = try await reader.takeSession(id: fixture.session.id) }),
            ("resealSessions", { _ = try await reader.resealSessions() }),
            ("resealAll", { _ = try await reader.resealAll(tenant: fixture.key.tenant) }),
        ]
        for (name, operation) in operations {
            do {
                try await operation()
                throw Mismatch(message: "\(name) succeeded without the record's key", line: #line)
            } catch let error as BrokerError {
                try expect(
                    error.code == .sealingKeyMissing, "\(name) threw \(error.code), expected sealing_key_missing")
                try expect(error.message.contains("'\(sealing.id)'"), "\(name)'s error does not name the key id")
            }
            try expect(try await snapshot() == before, "\(name) without the record's key changed the store")
        }
        try await fixture.remove(from: writer)
    }

    private func plainRecordsStillRead(_ key: SealingStoreCodec.Key) async throws {
        let plain = try await makeStore(JSONStoreCodec())
        let fixture = try Fixture()
        let secrets = try await fixture.write(to: plain)
        let sealed = try await makeStore(SealingStoreCodec(keys: [key]))
        try expect(try await sealed.record(for: fixture.key) == fixture.stored, "a plain record did not read sealed")
        let report = try await sealed.resealAll(tenant: fixture.key.tenant)
        try expect(report.records == 1, "resealAll re-sealed \(report.records) plain records, expected 1")
        let stored = try await blobs()
        for secret in secrets {
            try expect(!stored.contains { Self.contains($0, secret) }, "a re-sealed plain record is still plain")
        }
        var expected = fixture.stored
        expected.version += 1
        try expect(try await sealed.record(for: fixture.key) == expected, "re-sealing changed a plain record")
        try await fixture.remove(from: sealed)
    }

    private func rotation(old: SealingStoreCodec.Key, new: SealingStoreCodec.Key) async throws {
        let first = try await makeStore(SealingStoreCodec(keys: [old]))
        let written = try Fixture()
        let other = try Fixture()
        _ = try await written.write(to: first)
        _ = try await other.write(to: first)
        try expect(try await keyIDs() == [old.id], "blobs were not all sealed under the first key")
        let rotated = try await makeStore(SealingStoreCodec(keys: [new, old]))
        try expect(try await rotated.record(for: written.key) == written.stored, "the old key does not open")
        // A write re-seals that record under the new key.
        var updated = written.stored
        updated.accessToken = Secret("access-after-rotation-" + ConformanceFixtures.randomHex())
        guard case .swapped = try await rotated.compareAndSwap(written.key, expecting: updated.version, with: updated)
        else { throw Mismatch(message: "a compare-and-swap after rotation did not swap", line: #line) }
        try expect(try await keyIDs() == [new.id, old.id], "a write did not re-seal under the new key")
        // resealAll moves everything else.
        _ = try await rotated.resealAll()
        try expect(try await keyIDs() == [new.id], "resealAll left blobs under the old key")
        let current = try await makeStore(SealingStoreCodec(keys: [new]))
        try expect(try await current.record(for: other.key)?.accessToken == other.stored.accessToken, "lost data")
        try expect(
            try await current.takeSession(id: written.session.id) == written.session, "a session was not re-sealed")
        try await written.remove(from: current)
        try await other.remove(from: current)
    }

    // MARK: Helpers

    /// The key ids of the stored blobs (plain blobs count as `plain`).
    private func keyIDs() async throws -> Set<String> {
        Set(try await blobs().map { try SealingStoreCodec.keyID(ofBlob: $0) ?? "plain" })
    }

    static func contains(_ haystack: [UInt8], _ needle: String) -> Bool {
        let bytes = Array(needle.utf8)
        guard !bytes.isEmpty, bytes.count <= haystack.count else { return false }
        return (0...(haystack.count - bytes.count)).contains { haystack[$0..<($0 + bytes.count)].elementsEqual(bytes) }
    }

    /// One record (written, then rotated once by compare-and-swap) and one pending session, under a fresh tenant.
    private struct Fixture {
        let key: StoreKey
        let record: TokenRecord
        let session: AuthorizationSession
        var stored: TokenRecord {
            var stored = record
            stored.version += 1
            return stored
        }

        init() throws {
            key = try ConformanceFixtures.key(tenant: TenantID("sealed-" + ConformanceFixtures.randomHex()))
            var record = ConformanceFixtures.record()
            record.idToken = Secret("id-token-" + ConformanceFixtures.randomHex(16))
            self.record = record
            session = ConformanceFixtures.session(for: key, expiresIn: 600)
        }

        /// Writes the record (insert, then a compare-and-swap) and the session; returns every secret written, the
        /// replaced first access token first.
        func write(to store: any BrokerStore) async throws -> [String] {
            var first = record
            first.accessToken = Secret("first-access-" + ConformanceFixtures.randomHex())
            _ = try await store.insert(first, for: key)
            _ = try await store.compareAndSwap(key, expecting: record.version, with: record)
            try await store.saveSession(session)
            return [
                first.accessToken.revealedValue, record.accessToken.revealedValue,
                record.refreshToken?.revealedValue ?? "", record.idToken?.revealedValue ?? "",
                session.codeVerifier.revealedValue, session.state.revealedValue,
            ]
        }

        func remove(from store: any BrokerStore) async throws {
            try await store.deleteRecord(for: key)
            _ = try await store.takeSession(id: session.id)
        }
    }
}
