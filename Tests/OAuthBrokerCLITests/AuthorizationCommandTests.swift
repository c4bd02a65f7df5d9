import Foundation
import OAuthBroker
import OAuthBrokerTesting
import Testing

@Suite("oauth-broker authorize and exchange")
struct AuthorizationCommandTests {
    @Test("authorize prints a PKCE S256 URL; exchange stores the grant; token then serves it without a request")
    func roundTrip() async throws {
        try await CLIFixture.with { fixture in
            let provider = try fixture.writeProvider()
            let authorize = try await fixture.run(
                ["authorize"] + fixture.keyArguments(provider: provider, scope: "profile openid"))
            #expect(authorize.status == 0, "\(authorize)")
            let url = try #require(URL(string: authorize.stdout.trimmingCharacters(in: .newlines)))
            let query = Dictionary(
                (URLComponents(url: url, resolvingAgainstBaseURL: false)?.queryItems ?? []).map {
                    ($0.name, $0.value ?? "")
                }, uniquingKeysWith: { first, _ in first })
            #expect(url.path == "/authorize")
            #expect(query["code_challenge_method"] == "S256")
            #expect(query["code_challenge"]?.count == 43)
            #expect((query["state"]?.count ?? 0) >= 32)
            #expect(query["redirect_uri"] == fixture.redirectURI)
            #expect(query["scope"]?.replacingOccurrences(of: "+", with: " ") == "openid profile")
            #expect(query["client_id"] == fixture.clientID)

            let callback = try await fixture.server.approve(authorizationURL: url)
            let exchange = try await fixture.run(
                [
                    "exchange", "--provider", provider, "--store", fixture.fileStore, "--callback",
                    callback.absoluteString,
                ])
            #expect(exchange.status == 0, "\(exchange)")
            #expect(exchange.stdout.contains("authorized acme/alice [openid profile]"))

            let token = try await fixture.run(
                ["token", "--format", "raw"] + fixture.keyArguments(provider: provider, scope: "openid profile"))
            #expect(token.status == 0, "\(token)")
            let key = try StoreKey(provider: "mock", tenant: "acme", principal: "alice", scopes: ["openid", "profile"])
            let record = try #require(try await fixture.openFileStore().record(for: key))
            #expect(token.stdout == record.accessToken.revealedValue + "\n")
            #expect(record.refreshToken != nil)
            #expect(fixture.server.statistics.requests(to: .token) == 1)
            #expect(fixture.server.statistics.requests(grant: .authorizationCode) == 1)

            // The verifier, the code and every token stay out of authorize's and exchange's output.
            let code = URLComponents(url: callback, resolvingAgainstBaseURL: false)?.queryItems?
                .first { $0.name == "code" }?.value
            let secrets = try await fixture.secrets() + [code ?? ""]
            expectNoSecrets(authorize, secrets)
            expectNoSecrets(exchange, secrets)
        }
    }

    @Test("a replayed callback, a forged state and access_denied exit with 3")
    func badCallbacksExit3() async throws {
        try await CLIFixture.with { fixture in
            let provider = try fixture.writeProvider()
            let callback = try await fixture.authorize(provider: provider)
            let exchange = ["exchange", "--provider", provider, "--store", fixture.fileStore, "--callback"]
            #expect(try await fixture.run(exchange + [callback.absoluteString]).status == 0)

            let replay = try await fixture.run(exchange + [callback.absoluteString])
            #expect(replay.status == 3, "\(replay)")
            #expect(replay.errorLine.contains("invalid_authorization_state"))
            #expect(!replay.errorLine.contains("\n"))

            let forged = try await fixture.run(exchange + ["http://127.0.0.1:9/callback?code=abc&state=forged-state"])
            #expect(forged.status == 3, "\(forged)")

            let authorize = try await fixture.run(
                ["authorize"] + fixture.keyArguments(provider: provider, principal: "bob"))
            let url = try #require(URL(string: authorize.stdout.trimmingCharacters(in: .newlines)))
            let denied = try await fixture.server.deny(authorizationURL: url)
            let result = try await fixture.run(exchange + [denied.absoluteString])
            #expect(result.status == 3, "\(result)")
            #expect(result.errorLine.contains("access_denied"))
            // Nothing was stored for bob.
            let key = try StoreKey(provider: "mock", tenant: "acme", principal: "bob")
            #expect(try await fixture.openFileStore().record(for: key) == nil)
        }
    }

    @Test("authorize without any redirect URI, or for a provider without the grant, exits with 2")
    func authorizeConfigurationErrors() async throws {
        try await CLIFixture.with { fixture in
            let noRedirect = try fixture.writeProvider(["redirect_uri": NSNull()], name: "no-redirect.json")
            let result = try await fixture.run(["authorize"] + fixture.keyArguments(provider: noRedirect))
            #expect(result.status == 2, "\(result)")
            #expect(result.errorLine.contains("--redirect-uri"))
            let withFlag = try await fixture.run(
                ["authorize", "--redirect-uri", "http://localhost:8080/cb"] + fixture.keyArguments(provider: noRedirect)
            )
            #expect(withFlag.status == 0, "\(withFlag)")
            #expect(withFlag.stdout.contains("redirect_uri=http%3A%2F%2Flocalhost%3A8080%2Fcb"))

            let machineOnly = try fixture.writeProvider(
                ["grants": ["client_credentials"], "authorization_endpoint": NSNull()], name: "machine.json")
            let unsupported = try await fixture.run(["authorize"] + fixture.keyArguments(provider: machineOnly))
            #expect(unsupported.status == 2, "\(unsupported)")
        }
    }
}
