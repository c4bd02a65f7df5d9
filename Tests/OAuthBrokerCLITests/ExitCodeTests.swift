import Foundation
import OAuthBroker
import OAuthBrokerTesting
import Testing

@Suite("oauth-broker exit codes")
struct ExitCodeTests {
    @Test(
        "usage errors exit with 2 (not ArgumentParser's 64) and one line on stderr",
        arguments: [
            ["token", "--store", "memory:", "--tenant", "t", "--principal", "p"],  // no --provider
            ["token", "--provider", "p.json", "--store", "memory:", "--tenant", "t", "--principal", "p", "--bogus"],
            ["list", "--store", "memory:", "--format", "yaml"],
            ["frobnicate"],
            ["demo", "--callers", "0"],
        ])
    func usageErrorsExit2(arguments: [String]) async throws {
        let result = try await CLI.run(arguments)
        #expect(result.status == 2, "\(result)")
        #expect(result.stdout.isEmpty)
        #expect(result.errorLine.hasPrefix("oauth-broker: error: "))
        #expect(!result.errorLine.contains("\n"))
    }

    @Test("help exits with 0 on stdout")
    func helpExits0() async throws {
        let result = try await CLI.run(["token", "--help"])
        #expect(result.status == 0, "\(result)")
        #expect(result.stdout.contains("--provider"))
        #expect(result.stdout.contains("--format"))
    }

    @Test("bad store URLs exit with 2", arguments: ["postgres://db/tokens", "file:", "sqlite:", "tokens.json"])
    func badStoreURLExit2(store: String) async throws {
        try await CLIFixture.with { fixture in
            let provider = try fixture.writeProvider()
            let token = try await fixture.run(["token"] + fixture.keyArguments(provider: provider, store: store))
            #expect(token.status == 2, "\(token)")
            #expect(token.errorLine.contains("--store"))
            let list = try await fixture.run(["list", "--store", store])
            #expect(list.status == 2, "\(list)")
            #expect(fixture.server.statistics.totalRequests == 0)
        }
    }

    @Test("a server that is down (closed port) exits with 4 after bounded retries")
    func serverDownExit4() async throws {
        try await CLIFixture.with { fixture in
            // A port that refuses connections and that no parallel test can take meanwhile.
            let closed = try ReservedClosedPort()
            let port = closed.port
            let provider = try fixture.writeProvider(["token_endpoint": "http://127.0.0.1:\(port)/token"])
            let result = try await fixture.run(["token"] + fixture.keyArguments(provider: provider))
            #expect(result.status == 4, "\(result)")
            #expect(result.errorLine.contains("connection_failed"))
            expectNoSecrets(result, [fixture.clientSecret])
            withExtendedLifetime(closed) {}
        }
    }

    @Test("5xx on every attempt exits with 4 after three attempts; 429 with Retry-After is retried and succeeds")
    func serverErrorsExit4() async throws {
        try await CLIFixture.with { fixture in
            let provider = try fixture.writeProvider()
            fixture.server.enqueue([.internalServerError, .internalServerError, .internalServerError])
            let failed = try await fixture.run(["token"] + fixture.keyArguments(provider: provider))
            #expect(failed.status == 4, "\(failed)")
            #expect(failed.errorLine.contains("provider_unavailable"))
            #expect(fixture.server.statistics.requests(to: .token) == 3)

            fixture.server.enqueue(.tooManyRequests(retryAfter: .seconds(1)))
            let retried = try await fixture.run(["token"] + fixture.keyArguments(provider: provider))
            #expect(retried.status == 0, "\(retried)")
            #expect(fixture.server.statistics.requests(to: .token) == 5)
        }
    }

    @Test("rate limiting on every attempt exits with 4")
    func rateLimitedExit4() async throws {
        try await CLIFixture.with { fixture in
            let provider = try fixture.writeProvider()
            fixture.server.enqueue(Array(repeating: .tooManyRequests(retryAfter: nil), count: 3))
            let result = try await fixture.run(["token"] + fixture.keyArguments(provider: provider))
            #expect(result.status == 4, "\(result)")
            #expect(result.errorLine.contains("rate_limited"))
        }
    }

    @Test("invalid_client (a wrong secret) exits with 2, without printing either secret")
    func invalidClientExit2() async throws {
        try await CLIFixture.with { fixture in
            let provider = try fixture.writeProvider()
            let wrong = "wrong-secret-\(UInt64.random(in: .min ... .max))"
            let result = try await fixture.run(
                ["token"] + fixture.keyArguments(provider: provider), environment: [fixture.secretVariable: wrong])
            #expect(result.status == 2, "\(result)")
            #expect(result.errorLine.contains("invalid_client"))
            expectNoSecrets(result, [fixture.clientSecret, wrong])
        }
    }

    @Test(
        "unsupported_grant_type, invalid_scope and unauthorized_client exit with 2",
        arguments: [OAuthErrorCode.unsupportedGrantType, .invalidScope, .unauthorizedClient])
    func providerConfigurationErrorsExit2(error: OAuthErrorCode) async throws {
        try await CLIFixture.with { fixture in
            let provider = try fixture.writeProvider()
            fixture.server.enqueue(.oauthError(error))
            let result = try await fixture.run(["token"] + fixture.keyArguments(provider: provider))
            #expect(result.status == 2, "\(result)")
            #expect(result.errorLine.contains(error.rawValue))
        }
    }

    @Test("a scope the server does not know exits with 2 (invalid_scope from the real server logic)")
    func unknownScopeExit2() async throws {
        var configuration = MockAuthorizationServer.Configuration()
        configuration.supportedScopes = ["read"]
        try await CLIFixture.with(configuration: configuration) { fixture in
            let provider = try fixture.writeProvider()
            let ok = try await fixture.run(["token"] + fixture.keyArguments(provider: provider, scope: "read"))
            #expect(ok.status == 0, "\(ok)")
            let result = try await fixture.run(["token"] + fixture.keyArguments(provider: provider, scope: "admin"))
            #expect(result.status == 2, "\(result)")
            #expect(result.errorLine.contains("invalid_scope"))
        }
    }

    @Test("nothing stored for a key that needs a user exits with 3")
    func nothingStoredExit3() async throws {
        try await CLIFixture.with { fixture in
            let provider = try fixture.writeProvider(["grants": ["authorization_code", "refresh_token"]])
            let result = try await fixture.run(["token"] + fixture.keyArguments(provider: provider))
            #expect(result.status == 3, "\(result)")
            #expect(result.errorLine.contains("reauthorization_required"))
            #expect(fixture.server.statistics.totalRequests == 0)
        }
    }

    @Test("anything else exits with 1: a malformed token response, a redirecting token endpoint")
    func otherFailuresExit1() async throws {
        try await CLIFixture.with { fixture in
            let provider = try fixture.writeProvider()
            fixture.server.enqueue(.malformedJSON)
            let malformed = try await fixture.run(["token"] + fixture.keyArguments(provider: provider))
            #expect(malformed.status == 1, "\(malformed)")
            #expect(malformed.errorLine.contains("malformed_response"))

            fixture.server.enqueue(.redirect(to: "http://127.0.0.1:9/elsewhere"))
            let redirected = try await fixture.run(["token"] + fixture.keyArguments(provider: provider))
            #expect(redirected.status == 1, "\(redirected)")
            #expect(redirected.errorLine.contains("redirect_refused"))
            expectNoSecrets(malformed, [fixture.clientSecret])
        }
    }

    @Test("a corrupt file store exits with 1 and is left as it was")
    func corruptStoreExit1() async throws {
        try await CLIFixture.with { fixture in
            let provider = try fixture.writeProvider()
            let path = "\(fixture.directory)/tokens.json"
            try Data("{ not json".utf8).write(to: URL(fileURLWithPath: path))
            let result = try await fixture.run(["token"] + fixture.keyArguments(provider: provider))
            #expect(result.status == 1, "\(result)")
            #expect(result.errorLine.contains("store_corrupted"))
        }
    }
}
