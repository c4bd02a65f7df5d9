import CSQLite
import Foundation
import OAuthBroker
import OAuthBrokerSQLite
import OAuthBrokerTesting
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Raw SQLite access for tests that tamper with the file behind the store's back.
final class RawDatabase {
    let handle: OpaquePointer
    init(_ path: String) throws {
        var opened: OpaquePointer?
        guard sqlite3_open(path, &opened) == SQLITE_OK, let opened else { throw BrokerError.storeFailed }
        handle = opened
        sqlite3_busy_timeout(handle, 5000)
    }
    deinit { sqlite3_close_v2(handle) }
    @discardableResult
    func execute(_ sql: String) -> Int32 { sqlite3_exec(handle, sql, nil, nil, nil) }
    func scalar(_ sql: String) -> String? {
        var statement: OpaquePointer?
        guard sqlite3_prepare_v2(handle, sql, -1, &statement, nil) == SQLITE_OK else { return nil }
        defer { sqlite3_finalize(statement) }
        guard sqlite3_step(statement) == SQLITE_ROW, let text = sqlite3_column_text(statement, 0) else { return nil }
        return String(cString: text)
    }
}

@Suite("SQLiteStore")
struct SQLiteStoreTests {
    static let key = StoreKey(
        provider: try! ProviderID("p"), tenant: try! TenantID("t"), principal: try! PrincipalID("u"), scopes: ["a"])

    static func record(_ tag: String, version: UInt64 = 1_000) -> TokenRecord {
        TokenRecord(
            accessToken: Secret("access-\(tag)"), refreshToken: Secret("refresh-\(tag)"), issuedAt: Date(),
            expiresAt: Date().addingTimeInterval(3600), version: version)
    }

    @Test(
        "conformance, plain (full strength: 64 tasks × 200 compare-and-swaps) and sealed (16 × 50)",
        arguments: StoreConformance.Check.all, [false, true])
    func conformance(_ check: StoreConformance.Check, sealed: Bool) async throws {
        try await withTemporaryDirectory { directory in
            let codec: any StoreCodec =
                sealed ? try SealingStoreCodec(keys: [.random(id: "conformance")]) : JSONStoreCodec()
            // The sealed run checks the codec path; the plain run keeps the full-strength race.
            let options = sealed ? StoreConformance.Options(concurrentTasks: 16, attemptsPerTask: 50) : .init()
            try await StoreConformance(options: options) {
                try await SQLiteStore(configuration: .init(path: directory + "/store.sqlite", codec: codec))
            }.run(check)
        }
    }

    @Test("conformance with synchronous=NORMAL and one shared store instance")
    func conformanceShared() async throws {
        try await withTemporaryDirectory { directory in
            let store = try await SQLiteStore(
                configuration: .init(path: directory + "/store.sqlite", synchronous: .normal))
            try await StoreConformance(options: .init(concurrentTasks: 16, attemptsPerTask: 50)) { store }.run()
        }
    }

    @Test("conformance with no reader connections and with four", arguments: [0, 4])
    func conformanceReaders(_ readers: Int) async throws {
        try await withTemporaryDirectory { directory in
            var configuration = SQLiteStore.Configuration(path: directory + "/store.sqlite", synchronous: .normal)
            configuration.readerConnections = readers
            let store = try await SQLiteStore(configuration: configuration)
            try await StoreConformance(options: .init(concurrentTasks: 16, attemptsPerTask: 50)) { store }.run()
        }
    }

    @Test("every reader connection sees each write as soon as the write returns")
    func readersSeeCommittedWrites() async throws {
        try await withTemporaryDirectory { directory in
            var configuration = SQLiteStore.Configuration(path: directory + "/store.sqlite", synchronous: .normal)
            configuration.readerConnections = 3
            let store = try await SQLiteStore(configuration: configuration)
            _ = try await store.insert(Self.record("0"), for: Self.key)
            var expected: UInt64 = 1_000
            for round in 1...30 {
                guard
                    case .swapped(let stored) = try await store.compareAndSwap(
                        Self.key, expecting: expected, with: Self.record("\(round)"))
                else {
                    Issue.record("compare-and-swap \(round) did not swap")
                    return
                }
                expected = stored.version
                // Round-robin: three consecutive reads use all three readers.
                for _ in 0..<3 {
                    let read = try await store.record(for: Self.key)
                    #expect(read?.version == expected)
                    #expect(read?.accessToken == Secret("access-\(round)"))
                }
                #expect(try await store.keys(tenant: nil) == [Self.key])
            }
            #expect(try await store.deleteRecord(for: Self.key))
            for _ in 0..<3 { #expect(try await store.record(for: Self.key) == nil) }
        }
    }

    @Test("the database, -wal and -shm files have mode 0600; WAL and schema version 2 are in place")
    func fileModeAndSchema() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/store.sqlite"
            let previous = umask(0o022)
            defer { umask(previous) }
            let store = try await SQLiteStore(path: path)
            _ = try await store.insert(Self.record("a"), for: Self.key)
            for file in [path, path + "-wal", path + "-shm"] {
                var info = stat()
                #expect(stat(file, &info) == 0, "\(file) is missing")
                #expect(info.st_mode & 0o777 == 0o600, "\(file) has mode \(String(info.st_mode & 0o777, radix: 8))")
            }
            let raw = try RawDatabase(path)
            #expect(raw.scalar("PRAGMA journal_mode") == "wal")
            #expect(raw.scalar("SELECT MAX(version) FROM oauth_broker_schema") == "2")
            #expect(SQLiteStore.schemaVersion == 2)
        }
    }

    @Test("data survives reopening; a second open does not re-run migrations")
    func reopen() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/store.sqlite"
            let record = Self.record("kept")
            do {
                let store = try await SQLiteStore(path: path)
                _ = try await store.insert(record, for: Self.key)
            }
            let reopened = try await SQLiteStore(path: path)
            #expect(try await reopened.record(for: Self.key) == record)
            #expect(try RawDatabase(path).scalar("SELECT COUNT(*) FROM oauth_broker_schema") == "2")
        }
    }

    @Test("two store instances on one file see each other's writes and share leases")
    func sharedFile() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/store.sqlite"
            let first = try await SQLiteStore(path: path)
            let second = try await SQLiteStore(path: path)
            let original = Self.record("original")
            _ = try await first.insert(original, for: Self.key)
            guard
                case .swapped(let stored) = try await second.compareAndSwap(
                    Self.key, expecting: original.version, with: Self.record("second"))
            else {
                Issue.record("the second instance could not swap")
                return
            }
            #expect(try await first.record(for: Self.key) == stored)
            #expect(
                try await first.compareAndSwap(Self.key, expecting: original.version, with: original)
                    == .conflict(current: stored))
            #expect(try await first.acquireRefreshLease(for: Self.key, owner: LeaseOwner("a"), ttl: .seconds(60)))
            #expect(!(try await second.acquireRefreshLease(for: Self.key, owner: LeaseOwner("b"), ttl: .seconds(60))))
        }
    }

    @Test("racing store instances on one file lose no update")
    func racingInstances() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/store.sqlite"
            var stores: [SQLiteStore] = []
            for _ in 0..<4 { stores.append(try await SQLiteStore(path: path)) }
            _ = try await stores[0].insert(Self.record("start", version: 0), for: Self.key)
            let wins = try await withThrowingTaskGroup(of: Int.self) { group in
                for index in 0..<16 {
                    let store = stores[index % stores.count]
                    group.addTask {
                        var won = 0
                        var known = try #require(try await store.record(for: Self.key))
                        for _ in 0..<40 {
                            switch try await store.compareAndSwap(Self.key, expecting: known.version, with: known) {
                            case .swapped(let stored):
                                won += 1
                                known = stored
                            case .conflict(let current): known = current
                            case .missing: Issue.record("record vanished")
                            }
                        }
                        return won
                    }
                }
                return try await group.reduce(0, +)
            }
            let final = try #require(try await stores[3].record(for: Self.key))
            #expect(final.version == UInt64(wins))
            #expect(wins >= 40)
        }
    }

    @Test("a file that is not a database is storeCorrupted and left as it was")
    func notADatabase() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/store.sqlite"
            let garbage = Data((0..<8192).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) })
            try garbage.write(to: URL(fileURLWithPath: path))
            await #expect(throws: BrokerError.storeCorrupted) { try await SQLiteStore(path: path) }
            #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == garbage)
        }
    }

    @Test("an undecodable record row is storeCorrupted without leaking the token")
    func corruptRow() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/store.sqlite"
            let store = try await SQLiteStore(path: path)
            _ = try await store.insert(Self.record("secret-token-value"), for: Self.key)
            let raw = try RawDatabase(path)
            let tampered = #"{"v":1,"record":{"access_token":"secret-token-value"}}"#
            #expect(raw.execute("UPDATE oauth_broker_records SET blob = CAST('\(tampered)' AS BLOB)") == SQLITE_OK)
            let error = await #expect(throws: BrokerError.self) { try await store.record(for: Self.key) }
            #expect(error?.code == .storeCorrupted)
            #expect(error.map { !$0.debugDescription.contains("secret-token-value") } ?? false)
            #expect(raw.execute("UPDATE oauth_broker_records SET blob = X'00'") == SQLITE_OK)
            await #expect(throws: BrokerError.storeCorrupted) {
                try await store.compareAndSwap(Self.key, expecting: 1, with: Self.record("x"))
            }
        }
    }

    @Test("a record whose version column disagrees with its blob is storeCorrupted")
    func versionMismatch() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/store.sqlite"
            let store = try await SQLiteStore(path: path)
            _ = try await store.insert(Self.record("a"), for: Self.key)
            #expect(try RawDatabase(path).execute("UPDATE oauth_broker_records SET version = 5") == SQLITE_OK)
            await #expect(throws: BrokerError.storeCorrupted) { try await store.record(for: Self.key) }
        }
    }

    @Test("a schema newer than this release is refused")
    func newerSchema() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/store.sqlite"
            _ = try await SQLiteStore(path: path)
            #expect(try RawDatabase(path).execute("INSERT INTO oauth_broker_schema VALUES (3, 0)") == SQLITE_OK)
            await #expect(throws: BrokerError.storeFailed) { try await SQLiteStore(path: path) }
        }
    }

    @Test("a write lock held by another connection past the busy timeout is storeUnavailable")
    func busy() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/store.sqlite"
            let store = try await SQLiteStore(configuration: .init(path: path, busyTimeout: .milliseconds(50)))
            _ = try await store.insert(Self.record("a"), for: Self.key)
            let raw = try RawDatabase(path)
            #expect(raw.execute("BEGIN IMMEDIATE") == SQLITE_OK)
            await #expect(throws: BrokerError.storeUnavailable) {
                try await store.compareAndSwap(Self.key, expecting: 1_000, with: Self.record("b"))
            }
            // Readers are not blocked by the writer (WAL).
            #expect(try await store.record(for: Self.key) != nil)
            #expect(raw.execute("COMMIT") == SQLITE_OK)
            guard case .swapped = try await store.compareAndSwap(Self.key, expecting: 1_000, with: Self.record("b"))
            else {
                Issue.record("the swap failed after the lock was released")
                return
            }
        }
    }

    @Test("invalid configurations are rejected")
    func invalidConfiguration() async {
        await #expect(throws: BrokerError.invalidConfiguration) { try await SQLiteStore(path: "") }
        await #expect(throws: BrokerError.invalidConfiguration) {
            try await SQLiteStore(configuration: .init(path: "/tmp/x.sqlite", busyTimeout: .seconds(-1)))
        }
        for readers in [-1, 65] {
            var configuration = SQLiteStore.Configuration(path: "/tmp/x.sqlite")
            configuration.readerConnections = readers
            await #expect(throws: BrokerError.invalidConfiguration) {
                try await SQLiteStore(configuration: configuration)
            }
        }
        await #expect(throws: BrokerError.storeFailed) {
            try await SQLiteStore(path: "/nonexistent-\(UInt32.random(in: 0...UInt32.max))/store.sqlite")
        }
    }
}

@Suite("SQLiteStore schema 2")
struct SQLiteLegacyStorageIDTests {
    @Test("opening a schema-1 database re-files records of non-ASCII keys under byte-exact storage IDs")
    func migratesLegacyStorageIDs() async throws {
        let key = try StoreKey(provider: "p", tenant: "t\u{FC}r", principal: "jos\u{E9}", scopes: ["a"])
        let ascii = try StoreKey(provider: "p", tenant: "t", principal: "plain", scopes: ["a"])
        try await withTemporaryDirectory { directory in
            let path = directory + "/store.sqlite"
            let record = SQLiteStoreTests.record("legacy")
            do {
                let store = try await SQLiteStore(path: path)
                _ = try await store.insert(record, for: key)
                _ = try await store.insert(SQLiteStoreTests.record("ascii"), for: ascii)
            }
            // Make it the database an earlier release left: schema 1, the record under its legacy ID.
            let raw = try RawDatabase(path)
            #expect(raw.execute("DELETE FROM oauth_broker_schema WHERE version = 2") == SQLITE_OK)
            #expect(
                raw.execute(
                    "UPDATE oauth_broker_records SET storage_id = '\(key.legacyStorageID)' "
                        + "WHERE storage_id = '\(key.storageID)'") == SQLITE_OK)
            #expect(raw.scalar("SELECT COUNT(*) FROM oauth_broker_records WHERE storage_id GLOB '*[^ -~]*'") == "1")

            let store = try await SQLiteStore(path: path)
            #expect(try await store.record(for: key) == record)
            #expect(try await store.keys(tenant: key.tenant) == [key])
            #expect(try await store.keys().count == 2)
            #expect(raw.scalar("SELECT MAX(version) FROM oauth_broker_schema") == "2")
            #expect(raw.scalar("SELECT COUNT(*) FROM oauth_broker_records WHERE storage_id GLOB '*[^ -~]*'") == "0")
        }
    }
}
