import Foundation
import OAuthBroker
import OAuthBrokerTesting
import Testing

@Suite("oauth-broker refresh, revoke and list")
struct RefreshRevokeListTests {
    @Test("refresh leaves a fresh token alone; --force rotates the refresh token")
    func refreshOnlyWhenStaleUnlessForced() async throws {
        try await CLIFixture.with { fixture in
            let provider = try fixture.writeProvider()
            let key = try await fixture.authorizeAndExchange(provider: provider)
            let store = try fixture.openFileStore()
            let before = try #require(try await store.record(for: key))
            let arguments = fixture.keyArguments(provider: provider, scope: "openid profile")

            let lazy = try await fixture.run(["refresh"] + arguments)
            #expect(lazy.status == 0, "\(lazy)")
            #expect(lazy.stdout.hasPrefix("not refreshed"))
            #expect(fixture.server.statistics.requests(grant: .refreshToken) == 0)
            #expect(try await store.record(for: key)?.version == before.version)

            let forced = try await fixture.run(["refresh", "--force"] + arguments)
            #expect(forced.status == 0, "\(forced)")
            #expect(forced.stdout.hasPrefix("refreshed acme/alice"))
            #expect(fixture.server.statistics.requests(grant: .refreshToken) == 1)
            #expect(fixture.server.statistics.refreshTokenRotations == 1)
            let after = try #require(try await store.record(for: key))
            #expect(after.version == before.version + 1)
            #expect(after.refreshToken != before.refreshToken)
            #expect(!fixture.server.isActive(refreshToken: try #require(before.refreshToken)))

            let secrets =
                try await fixture.secrets() + [
                    before.accessToken.revealedValue, before.refreshToken?.revealedValue ?? "",
                ]
            expectNoSecrets(lazy, secrets)
            expectNoSecrets(forced, secrets)
        }
    }

    @Test("a grant the provider killed: refresh --force and token exit with 3, and the record needs re-authorization")
    func invalidGrantExit3() async throws {
        try await CLIFixture.with { fixture in
            let provider = try fixture.writeProvider()
            let key = try await fixture.authorizeAndExchange(provider: provider)
            let store = try fixture.openFileStore()
            let record = try #require(try await store.record(for: key))
            #expect(fixture.server.revokeFamily(of: try #require(record.refreshToken)))

            let arguments = fixture.keyArguments(provider: provider, scope: "openid profile")
            let refresh = try await fixture.run(["refresh", "--force"] + arguments)
            #expect(refresh.status == 3, "\(refresh)")
            #expect(refresh.errorLine.contains("invalid_grant"))
            #expect(try await store.record(for: key)?.status == .needsReauthorization)
            let token = try await fixture.run(["token"] + arguments)
            #expect(token.status == 3, "\(token)")
            expectNoSecrets(refresh, try await fixture.secrets())
        }
    }

    @Test("revoke sends the refresh token to the provider and marks the record revoked; then token exits with 3")
    func revoke() async throws {
        try await CLIFixture.with { fixture in
            let provider = try fixture.writeProvider()
            let key = try await fixture.authorizeAndExchange(provider: provider)
            let store = try fixture.openFileStore()
            let record = try #require(try await store.record(for: key))
            let arguments = fixture.keyArguments(provider: provider, scope: "openid profile")

            let revoke = try await fixture.run(["revoke"] + arguments)
            #expect(revoke.status == 0, "\(revoke)")
            #expect(revoke.stdout.contains("revoked acme/alice"))
            #expect(fixture.server.statistics.revocations == 1)
            #expect(!fixture.server.isActive(refreshToken: try #require(record.refreshToken)))
            #expect(try await store.record(for: key)?.status == .revoked)

            let token = try await fixture.run(["token"] + arguments)
            #expect(token.status == 3, "\(token)")
            #expect(token.errorLine.contains("token_revoked"))

            let list = try await fixture.run(["list", "--store", fixture.fileStore])
            #expect(list.stdout.contains("revoked"))
            let secrets = try await fixture.secrets()
            for result in [revoke, token, list] { expectNoSecrets(result, secrets) }
        }
    }

    @Test("revoke with nothing stored succeeds and says so, without calling the provider")
    func revokeNothingStored() async throws {
        try await CLIFixture.with { fixture in
            let provider = try fixture.writeProvider()
            let result = try await fixture.run(
                ["revoke"] + fixture.keyArguments(provider: provider, principal: "nobody"))
            #expect(result.status == 0, "\(result)")
            #expect(result.stdout.contains("nothing stored"))
            #expect(fixture.server.statistics.requests(to: .revocation) == 0)
        }
    }

    @Test("a revocation endpoint that keeps failing exits with 4, and the record stays revoked locally")
    func revocationEndpointDownExit4() async throws {
        try await CLIFixture.with { fixture in
            let provider = try fixture.writeProvider()
            let key = try await fixture.authorizeAndExchange(provider: provider)
            fixture.server.enqueue(
                [.internalServerError, .internalServerError, .internalServerError], for: .revocation)
            let result = try await fixture.run(
                ["revoke"] + fixture.keyArguments(provider: provider, scope: "openid profile"))
            #expect(result.status == 4, "\(result)")
            #expect(result.errorLine.contains("marked revoked locally"))
            #expect(fixture.server.statistics.requests(to: .revocation) == 3)
            #expect(try await fixture.openFileStore().record(for: key)?.status == .revoked)
            expectNoSecrets(result, try await fixture.secrets())
        }
    }

    @Test("list shows key, tenant, principal, scopes, status, expiry and version, filters by tenant, never a token")
    func listIsRedacted() async throws {
        try await CLIFixture.with { fixture in
            let provider = try fixture.writeProvider()
            _ = try await fixture.authorizeAndExchange(provider: provider)
            for tenant in ["acme", "globex"] {
                let result = try await fixture.run(
                    ["token"]
                        + fixture.keyArguments(provider: provider, tenant: tenant, principal: "svc", scope: "read"))
                #expect(result.status == 0, "\(result)")
            }
            let secrets = try await fixture.secrets()
            #expect(secrets.count >= 5)  // the client secret, three access tokens, one refresh token

            let table = try await fixture.run(["list", "--store", fixture.fileStore])
            #expect(table.status == 0, "\(table)")
            let lines = table.stdout.split(separator: "\n")
            #expect(lines.count == 4)
            #expect(
                lines.first?.split(separator: " ", omittingEmptySubsequences: true)
                    == ["KEY", "TENANT", "PRINCIPAL", "SCOPES", "STATUS", "EXPIRES_AT", "VERSION"])
            #expect(lines.contains { $0.contains("mock/globex/svc/") && $0.contains("active") })

            let json = try await fixture.run([
                "list", "--store", fixture.fileStore, "--tenant", "acme", "--format", "json",
            ])
            #expect(json.status == 0, "\(json)")
            let rows = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [[String: Any]])
            #expect(rows.count == 2)
            #expect(Set(rows.compactMap { $0["principal"] as? String }) == ["alice", "svc"])
            for row in rows {
                #expect(row["tenant"] as? String == "acme")
                #expect(row["status"] as? String == "active")
                #expect((row["key"] as? String)?.hasPrefix("mock:acme:") == true)
                #expect(row["version"] is NSNumber)
                #expect(row["expires_at"] is String)
                #expect(row["scopes"] is [String])
            }
            expectNoSecrets(table, secrets)
            expectNoSecrets(json, secrets)

            let empty = try await fixture.run(["list", "--store", "memory:"])
            #expect(empty.status == 0)
            #expect(empty.stdout == "no records\n")
        }
    }
}
