import Foundation
import OAuthBroker
import OAuthBrokerTesting
import Testing

@Suite("oauth-broker token")
struct TokenCommandTests {
    @Test("client credentials: JSON with access_token, token_type, expires_at and scope; then raw from the store")
    func clientCredentialsJSONThenRaw() async throws {
        try await CLIFixture.with { fixture in
            let provider = try fixture.writeProvider()
            let arguments = fixture.keyArguments(provider: provider, principal: "billing", scope: "write read")
            let json = try await fixture.run(["token"] + arguments)
            #expect(json.status == 0, "\(json)")
            let object = try #require(
                try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any], "\(json)")
            let accessToken = try #require(object["access_token"] as? String)
            #expect(fixture.server.isActive(accessToken: Secret(accessToken)))
            #expect(object["token_type"] as? String == "Bearer")
            #expect(object["scope"] as? String == "read write")
            let expiresAt = try #require(object["expires_at"] as? String)
            let date = try #require(try? Date(expiresAt, strategy: .iso8601))
            #expect(date > Date())
            #expect(Set(object.keys) == ["access_token", "token_type", "expires_at", "scope"])

            // Scope order and spelling do not matter: the same key, served from the store.
            let raw = try await fixture.run(
                ["token", "--format", "raw"]
                    + fixture.keyArguments(provider: provider, principal: "billing", scope: "read write read"))
            #expect(raw.status == 0, "\(raw)")
            #expect(raw.stdout == accessToken + "\n")
            #expect(fixture.server.statistics.requests(to: .token) == 1)
            expectNoSecrets(json, [fixture.clientSecret])
            expectNoSecrets(raw, [fixture.clientSecret])
        }
    }

    @Test("an SQLite store works the same, and list reads it")
    func sqliteStore() async throws {
        try await CLIFixture.with { fixture in
            let provider = try fixture.writeProvider()
            let store = "sqlite:\(fixture.directory)/tokens.sqlite"
            let first = try await fixture.run(
                ["token", "--format", "raw"] + fixture.keyArguments(provider: provider, store: store, tenant: "globex"))
            let second = try await fixture.run(
                ["token", "--format", "raw"] + fixture.keyArguments(provider: provider, store: store, tenant: "globex"))
            #expect(first.status == 0, "\(first)")
            #expect(second.stdout == first.stdout)
            #expect(fixture.server.statistics.requests(to: .token) == 1)
            let list = try await fixture.run(["list", "--store", store])
            #expect(list.status == 0, "\(list)")
            #expect(list.stdout.contains("globex"))
            expectNoSecrets(list, [fixture.clientSecret, first.stdout.trimmingCharacters(in: .newlines)])
        }
    }

    @Test("six processes on one expired record make one refresh between them (the store's lease)")
    func crossProcessSingleFlight() async throws {
        try await CLIFixture.with { fixture in
            let provider = try fixture.writeProvider()
            // Seed an expired record holding a live refresh token, as if an earlier process had stored it.
            let grant = try fixture.server.issueGrant(clientID: fixture.clientID, scopes: ["openid"])
            let key = try StoreKey(provider: "mock", tenant: "acme", principal: "alice", scopes: ["openid"])
            let issuedAt = Date().addingTimeInterval(-7200)
            let record = TokenRecord(
                accessToken: grant.accessToken, refreshToken: grant.refreshToken, scopes: ["openid"],
                issuedAt: issuedAt, expiresAt: issuedAt.addingTimeInterval(3600),
                version: TokenRecord.initialVersion(at: issuedAt))
            let store = try fixture.openFileStore()
            _ = try await store.insert(record, for: key)

            let arguments = ["token", "--format", "raw"] + fixture.keyArguments(provider: provider, scope: "openid")
            let results = try await withThrowingTaskGroup(of: CLIResult.self) { group in
                for _ in 0..<6 { group.addTask { try await fixture.run(arguments, overlapping: true) } }
                var results: [CLIResult] = []
                for try await result in group { results.append(result) }
                return results
            }
            for result in results { #expect(result.status == 0, "\(result)") }
            #expect(Set(results.map(\.stdout)).count == 1)
            #expect(fixture.server.statistics.requests(grant: .refreshToken) == 1)
            #expect(fixture.server.statistics.familiesRevokedByReuseDetection == 0)
            let stored = try #require(try await store.record(for: key))
            #expect(results.first?.stdout == stored.accessToken.revealedValue + "\n")
            #expect(stored.refreshToken != grant.refreshToken)
        }
    }
}
