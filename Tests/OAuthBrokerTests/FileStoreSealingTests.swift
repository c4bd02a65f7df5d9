import Foundation
import OAuthBroker
import OAuthBrokerTesting
import Testing

@Suite("FileStore sealed")
struct FileStoreSealingTests {
    /// The store file's document as JSON objects.
    static func document(_ path: String) throws -> [String: Any] {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    @Test("sealed-store scenarios against the raw file: no plaintext, moved blob, missing key, plain, rotation")
    func scenarios() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/store.json"
            let scenarios = SealedStoreScenarios(
                makeStore: { codec in try FileStore(configuration: .init(path: path, codec: codec)) },
                snapshot: { (try? Array(Data(contentsOf: URL(fileURLWithPath: path)))) ?? [] },
                blobs: {
                    guard FileManager.default.fileExists(atPath: path) else { return [] }
                    let document = try Self.document(path)
                    var blobs: [[UInt8]] = []
                    for section in ["records", "sessions"] {
                        let entries = document[section] as? [String: [String: Any]] ?? [:]
                        for entry in entries.values {
                            let text = try #require(entry["blob"] as? String)
                            blobs.append(Array(try #require(Data(base64Encoded: text))))
                        }
                    }
                    return blobs
                },
                copyRecordBlob: { from, to in
                    var document = try Self.document(path)
                    var records = try #require(document["records"] as? [String: [String: Any]])
                    let blob = records[from.storageID]?["blob"]
                    records[to.storageID]?["blob"] = blob
                    document["records"] = records
                    let data = try JSONSerialization.data(withJSONObject: document, options: [.sortedKeys])
                    try data.write(to: URL(fileURLWithPath: path))
                })
            try await scenarios.run()
        }
    }

    @Test("resealAll waits for a key's refresh lease and leaves the record alone while another broker holds it")
    func resealHonoursLeases() async throws {
        try await withTemporaryDirectory { directory in
            let codec = try SealingStoreCodec(keys: [.random(id: "k1")])
            let store = try FileStore(configuration: .init(path: directory + "/store.json", codec: codec))
            let key = try StoreKey(provider: "p", tenant: "t", principal: "u")
            let record = TokenRecord(
                accessToken: Secret("a"), issuedAt: Date(), expiresAt: Date().addingTimeInterval(3600), version: 1_000)
            _ = try await store.insert(record, for: key)
            let refresher = LeaseOwner.random()
            #expect(try await store.acquireRefreshLease(for: key, owner: refresher, ttl: .seconds(60)))
            await #expect(throws: BrokerError.leaseUnavailable) {
                try await store.resealAll(leaseWait: .milliseconds(300))
            }
            #expect(try await store.record(for: key)?.version == 1_000)
            try await store.releaseRefreshLease(for: key, owner: refresher)
            #expect(try await store.resealAll() == ResealReport(records: 1, sessions: 0))
            #expect(try await store.record(for: key)?.version == 1_001)
        }
    }
}
