import Foundation
import OAuthBroker
import OAuthBrokerTesting
import Testing

@Suite("oauth-broker --transport and --log-level")
struct TransportOptionCLITests {
    @Test("--transport ahc: token, refresh and revoke end to end against the mock server")
    func ahcEndToEnd() async throws {
        try await CLIFixture.with { fixture in
            let provider = try fixture.writeProvider()
            let key = fixture.keyArguments(provider: provider)
            let token = try await fixture.run(["token", "--format", "raw", "--transport", "ahc"] + key)
            #expect(token.status == 0, "\(token)")
            let accessToken = token.stdout.trimmingCharacters(in: .newlines)
            #expect(fixture.server.isActive(accessToken: Secret(accessToken)))
            #expect(fixture.server.statistics.requests(to: .token) == 1)
            let revoke = try await fixture.run(["revoke", "--transport", "ahc"] + key)
            #expect(revoke.status == 0, "\(revoke)")
            #expect(!fixture.server.isActive(accessToken: Secret(accessToken)))
            #expect(fixture.server.statistics.revocations == 1)
            // The same key through curl afterwards: revoked is revoked, whatever the transport.
            let again = try await fixture.run(["token", "--transport", "curl"] + key)
            #expect(again.status == 3, "\(again)")
            expectNoSecrets(token, [fixture.clientSecret])
            expectNoSecrets(revoke, [fixture.clientSecret])
        }
    }

    @Test("an unknown --transport exits 2 with one line on standard error")
    func unknownTransport() async throws {
        try await CLIFixture.with { fixture in
            let provider = try fixture.writeProvider()
            let result = try await fixture.run(
                ["token", "--transport", "urlsession"] + fixture.keyArguments(provider: provider))
            #expect(result.status == 2, "\(result)")
            #expect(result.stdout.isEmpty)
            #expect(result.errorLine.contains("transport"), "\(result)")
            #expect(!result.errorLine.contains("\n"), "\(result)")
            #expect(fixture.server.statistics.requests(to: .token) == 0)
        }
    }

    @Test("--log-level debug names the transport on standard error and prints no secret", arguments: ["curl", "ahc"])
    func debugLogNamesTransport(transport: String) async throws {
        try await CLIFixture.with { fixture in
            let provider = try fixture.writeProvider()
            let result = try await fixture.run(
                ["token", "--format", "raw", "--transport", transport, "--log-level", "debug"]
                    + fixture.keyArguments(provider: provider))
            #expect(result.status == 0, "\(result)")
            #expect(result.stderr.contains("transport \(transport) ("), "\(result)")
            let accessToken = result.stdout.trimmingCharacters(in: .newlines)
            #expect(!accessToken.isEmpty)
            // The token is on standard output (it was asked for); it and the secret are never on standard error.
            #expect(!result.stderr.contains(accessToken), "\(result)")
            #expect(!result.stderr.contains(fixture.clientSecret), "\(result)")
            for secret in try await fixture.secrets() { #expect(!result.stderr.contains(secret)) }
        }
    }

    @Test("without --log-level nothing is logged")
    func quietByDefault() async throws {
        try await CLIFixture.with { fixture in
            let provider = try fixture.writeProvider()
            let result = try await fixture.run(
                ["token", "--format", "raw", "--transport", "ahc"] + fixture.keyArguments(provider: provider))
            #expect(result.status == 0, "\(result)")
            #expect(result.stderr.isEmpty, "\(result)")
        }
    }
}
