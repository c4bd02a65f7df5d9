import Foundation
import Testing

@testable import OAuthBroker

/// The per-CPU replica table against a `Dictionary` model: inserts, replacements, backward-shift deletions and
/// growth.
@Suite struct ReplicaTableTests {
    private static func entry(_ version: UInt64, key: StoreKey) -> TokenCache.Entry {
        let now = Date()
        let record = TokenRecord(
            accessToken: Secret("at-\(version)"), issuedAt: now, expiresAt: now.addingTimeInterval(60),
            version: version)
        return TokenCache.Entry(
            token: AccessToken(record: record, key: key), staleAt: now.addingTimeInterval(30),
            expiresAt: now.addingTimeInterval(60))
    }

    @Test("random inserts and removals agree with a dictionary")
    func agreesWithDictionary() throws {
        let keys = try (0..<300).map { try StoreKey(provider: "p", tenant: "t\($0)", principal: "u") }
        var table = ReplicaTable()
        var model: [StoreKey: UInt64] = [:]
        var generator = SystemRandomNumberGenerator()
        for step in 0..<20_000 {
            let key = keys[Int.random(in: 0..<keys.count, using: &generator)]
            if Bool.random(using: &generator) {
                let version = UInt64(step)
                table.set(Self.entry(version, key: key), for: key)
                model[key] = version
            } else {
                table.remove(key)
                model.removeValue(forKey: key)
            }
            if step % 997 == 0 {
                for key in keys { #expect(table.entry(for: key)?.token.version == model[key]) }
            }
        }
        #expect(table.count == model.count)
        for key in keys { #expect(table.entry(for: key)?.token.version == model[key]) }
        for key in keys { table.remove(key) }
        #expect(table.count == 0)
        for key in keys { #expect(table.entry(for: key) == nil) }
    }

    @Test("an equal key made separately finds the same entry")
    func equalKeysMatch() throws {
        var table = ReplicaTable()
        let key = try StoreKey(provider: "p", tenant: "t", principal: "u", scopes: ["a", "b"])
        table.set(Self.entry(7, key: key), for: key)
        let twin = try StoreKey(provider: "p", tenant: "t", principal: "u", scopes: ["b", "a"])
        #expect(table.entry(for: twin)?.token.version == 7)
        let other = try StoreKey(provider: "p", tenant: "t", principal: "v", scopes: ["a", "b"])
        #expect(table.entry(for: other) == nil)
    }
}
