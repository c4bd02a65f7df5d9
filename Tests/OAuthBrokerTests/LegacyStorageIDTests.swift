import Foundation
import OAuthBroker
import OAuthBrokerTesting
import Testing

@Suite("Storage IDs of earlier releases")
struct LegacyStorageIDTests {
    static let key = try! StoreKey(provider: "acme", tenant: "t\u{FC}r", principal: "jos\u{E9}", scopes: ["read"])

    @Test("the legacy and byte-exact IDs differ only for keys with non-ASCII components")
    func legacyIDs() throws {
        let ascii = try StoreKey(provider: "acme", tenant: "a:b", principal: "c%d")
        #expect(!ascii.hasLegacyStorageID)
        #expect(ascii.legacyStorageID == ascii.storageID)
        #expect(Self.key.hasLegacyStorageID)
        #expect(Self.key.legacyStorageID.hasPrefix("acme:t\u{FC}r:jos\u{E9}:"))
        #expect(Self.key.legacyStorageID != Self.key.storageID)
    }

    @Test("a file store written by an earlier release is read, listed, and rewritten with byte-exact IDs")
    func fileStoreMovesLegacyRecords() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/store.json"
            let record = TokenRecord(
                accessToken: Secret("at-legacy"), refreshToken: Secret("rt-legacy"), issuedAt: Date(),
                expiresAt: Date().addingTimeInterval(3600), version: 1 << 40)
            _ = try await FileStore(path: path).insert(record, for: Self.key)
            // Rewrite the file as an earlier release wrote it: the record filed under the legacy ID.
            let text = try String(contentsOfFile: path, encoding: .utf8)
            #expect(text.contains(Self.key.storageID))
            try text.replacingOccurrences(of: Self.key.storageID, with: Self.key.legacyStorageID)
                .write(toFile: path, atomically: true, encoding: .utf8)

            let store = try FileStore(path: path)
            #expect(try await store.record(for: Self.key) == record, "the legacy record is not found")
            #expect(try await store.keys() == [Self.key])
            var rotated = record
            rotated.refreshToken = Secret("rt-rotated")
            guard case .swapped = try await store.compareAndSwap(Self.key, expecting: record.version, with: rotated)
            else {
                Issue.record("compare-and-swap on the moved record did not swap")
                return
            }
            let rewritten = try String(contentsOfFile: path, encoding: .utf8)
            #expect(rewritten.contains(Self.key.storageID))
            #expect(!rewritten.contains("jos\u{E9}:"), "the legacy ID is still in the file after a write")
            #expect(try await FileStore(path: path).record(for: Self.key)?.refreshToken == Secret("rt-rotated"))
        }
    }
}
