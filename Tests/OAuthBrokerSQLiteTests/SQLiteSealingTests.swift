import CSQLite
import Foundation
import OAuthBroker
import OAuthBrokerSQLite
import OAuthBrokerTesting
import Testing

extension RawDatabase {
    /// Every row of `sql`, each column's bytes (text or blob) concatenated with a 0 byte after each.
    func rows(_ sql: String) throws -> [[UInt8]] {
        var statement: OpaquePointer?
        guard sqlite3_prepare_v2(handle, sql, -1, &statement, nil) == SQLITE_OK else { throw BrokerError.storeFailed }
        defer { sqlite3_finalize(statement) }
        var rows: [[UInt8]] = []
        while sqlite3_step(statement) == SQLITE_ROW {
            var row: [UInt8] = []
            for column in 0..<sqlite3_column_count(statement) {
                let count = Int(sqlite3_column_bytes(statement, column))
                if let bytes = sqlite3_column_blob(statement, column), count > 0 {
                    row += UnsafeRawBufferPointer(start: bytes, count: count)
                }
                row.append(0)
            }
            rows.append(row)
        }
        return rows
    }

    /// `UPDATE … SET blob = ? WHERE storage_id = ?` with a bound blob.
    func setRecordBlob(_ blob: [UInt8], storageID: String) throws {
        var statement: OpaquePointer?
        let sql = "UPDATE oauth_broker_records SET blob = ? WHERE storage_id = ?"
        guard sqlite3_prepare_v2(handle, sql, -1, &statement, nil) == SQLITE_OK else { throw BrokerError.storeFailed }
        defer { sqlite3_finalize(statement) }
        let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
        _ = blob.withUnsafeBytes { sqlite3_bind_blob(statement, 1, $0.baseAddress, Int32($0.count), transient) }
        sqlite3_bind_text(statement, 2, storageID, -1, transient)
        guard sqlite3_step(statement) == SQLITE_DONE, sqlite3_changes(handle) == 1 else {
            throw BrokerError.storeFailed
        }
    }
}

@Suite("SQLiteStore sealed")
struct SQLiteSealingTests {
    @Test("sealed-store scenarios against the raw rows: no plaintext, moved blob, missing key, plain, rotation")
    func scenarios() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/store.sqlite"
            _ = try await SQLiteStore(path: path)
            let scenarios = SealedStoreScenarios(
                makeStore: { codec in try await SQLiteStore(configuration: .init(path: path, codec: codec)) },
                snapshot: {
                    let database = try RawDatabase(path)
                    let records = try database.rows("SELECT * FROM oauth_broker_records ORDER BY storage_id")
                    let sessions = try database.rows("SELECT * FROM oauth_broker_sessions ORDER BY id")
                    return Array((records + sessions).joined())
                },
                blobs: {
                    let database = try RawDatabase(path)
                    return try database.rows("SELECT blob FROM oauth_broker_records")
                        + database.rows("SELECT blob FROM oauth_broker_sessions")
                },
                copyRecordBlob: { from, to in
                    let database = try RawDatabase(path)
                    let escaped = from.storageID.replacingOccurrences(of: "'", with: "''")
                    let blob = try #require(
                        try database.rows("SELECT blob FROM oauth_broker_records WHERE storage_id = '\(escaped)'")
                            .first)
                    try database.setRecordBlob(Array(blob.dropLast()), storageID: to.storageID)
                })
            try await scenarios.run()
        }
    }

    @Test("the database file and its WAL hold no token or verifier bytes when sealed")
    func rawFiles() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/store.sqlite"
            let store = try await SQLiteStore(
                configuration: .init(path: path, codec: SealingStoreCodec(keys: [.random(id: "k1")])))
            let key = try StoreKey(provider: "p", tenant: "t", principal: "u")
            let secrets = ["access-RAWFILE-0123456789", "refresh-RAWFILE-0123456789", "verifier-RAWFILE-0123456789"]
            let record = TokenRecord(
                accessToken: Secret(secrets[0]), refreshToken: Secret(secrets[1]), issuedAt: Date(),
                expiresAt: Date().addingTimeInterval(3600), version: 1_000)
            _ = try await store.insert(record, for: key)
            try await store.saveSession(
                AuthorizationSession(
                    state: Secret("state-RAWFILE"), codeVerifier: Secret(secrets[2]), redirectURI: "https://a/cb",
                    key: key, createdAt: Date(), expiresAt: Date().addingTimeInterval(600)))
            var raw: [UInt8] = []
            for suffix in ["", "-wal", "-shm"] {
                raw += (try? Array(Data(contentsOf: URL(fileURLWithPath: path + suffix)))) ?? []
            }
            #expect(raw.count > 4096)
            for secret in secrets + ["state-RAWFILE"] {
                #expect(!SealedStoreScenariosProbe.contains(raw, secret), "\(secret) is readable in the database files")
            }
            // Control: the same through the plain codec is readable in the files.
            let plainPath = directory + "/plain.sqlite"
            let plain = try await SQLiteStore(path: plainPath)
            _ = try await plain.insert(record, for: key)
            let plainRaw = ["", "-wal"].flatMap {
                (try? Array(Data(contentsOf: URL(fileURLWithPath: plainPath + $0)))) ?? []
            }
            #expect(SealedStoreScenariosProbe.contains(plainRaw, secrets[1]))
        }
    }
}

/// Byte search for the raw-file checks.
enum SealedStoreScenariosProbe {
    static func contains(_ haystack: [UInt8], _ needle: String) -> Bool {
        let bytes = Array(needle.utf8)
        guard !bytes.isEmpty, bytes.count <= haystack.count else { return false }
        return (0...(haystack.count - bytes.count)).contains { haystack[$0..<($0 + bytes.count)].elementsEqual(bytes) }
    }
}
