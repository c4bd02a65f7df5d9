import Foundation
import OAuthBroker
import OAuthBrokerPostgres
import OAuthBrokerTesting
import PostgresNIO
import Synchronization
import Testing

@Suite("PostgresStore sealed", .enabled(if: PostgresTestEnvironment.hasServer, "needs OAUTH_BROKER_POSTGRES_URL"))
struct PostgresSealingTests {
    /// Every row of the record and session tables (all columns but the timestamps), in key order.
    static func rows(_ store: PostgresStore) async throws -> [(table: String, id: String, blob: [UInt8], rest: String)]
    {
        var rows: [(table: String, id: String, blob: [UInt8], rest: String)] = []
        let records = try await store.client.query(
            "SELECT storage_id, blob, version::text || ' ' || status FROM oauth_broker_records ORDER BY storage_id")
        for try await (id, blob, rest) in records.decode((String, ByteBuffer, String).self) {
            rows.append(("records", id, Array(blob.readableBytesView), rest))
        }
        let sessions = try await store.client.query("SELECT id, blob FROM oauth_broker_sessions ORDER BY id")
        for try await (id, blob) in sessions.decode((String, ByteBuffer).self) {
            rows.append(("sessions", id, Array(blob.readableBytesView), ""))
        }
        return rows
    }

    @Test("sealed-store scenarios against the raw rows: no plaintext, moved blob, missing key, plain, rotation")
    func scenarios() async throws {
        let configuration = try PostgresTestEnvironment.configuration()
        let base = try await PostgresStore(configuration: configuration)
        let opened = Mutex<[PostgresStore]>([])
        let scenarios = SealedStoreScenarios(
            makeStore: { codec in
                let store = try await PostgresStore(configuration: configuration, codec: codec)
                opened.withLock { $0.append(store) }
                return store
            },
            snapshot: {
                try await Self.rows(base).flatMap { Array("\($0.table) \($0.id) \($0.rest)".utf8) + [0] + $0.blob }
            },
            blobs: { try await Self.rows(base).map(\.blob) },
            copyRecordBlob: { from, to in
                try await base.client.query(
                    """
                    UPDATE oauth_broker_records
                    SET blob = (SELECT blob FROM oauth_broker_records WHERE storage_id = \(from.storageID))
                    WHERE storage_id = \(to.storageID)
                    """)
            })
        do {
            try await scenarios.run()
        } catch {
            for store in opened.withLock({ $0 }) { await store.shutdown() }
            try? await base.dropSchemaAndShutdown()
            throw error
        }
        for store in opened.withLock({ $0 }) { await store.shutdown() }
        try await base.dropSchemaAndShutdown()
    }
}
