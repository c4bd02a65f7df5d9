import Foundation
import OAuthBroker
import OAuthBrokerTesting
import Testing

@Suite("oauth-broker provider files")
struct ProviderFileCLITests {
    @Test("${env:NAME} is read from the child's environment; a missing variable exits with 2 naming it")
    func environmentSubstitution() async throws {
        try await CLIFixture.with { fixture in
            let provider = try fixture.writeProvider([
                "client_id": "${env:OAUTH_BROKER_CLI_TEST_CLIENT_ID}",
                "extra_token_params": ["audience": "${env:OAUTH_BROKER_CLI_TEST_AUDIENCE}"],
            ])
            let environment: [String: String?] = [
                "OAUTH_BROKER_CLI_TEST_CLIENT_ID": fixture.clientID, "OAUTH_BROKER_CLI_TEST_AUDIENCE": "billing",
            ]
            let ok = try await fixture.run(
                ["token"] + fixture.keyArguments(provider: provider), environment: environment)
            #expect(ok.status == 0, "\(ok)")
            #expect(fixture.server.statistics.requests(clientID: fixture.clientID) == 1)

            let missing = try await fixture.run(
                ["token"] + fixture.keyArguments(provider: provider),
                environment: environment.merging([fixture.secretVariable: nil]) { $1 })
            #expect(missing.status == 2, "\(missing)")
            #expect(missing.errorLine.contains(fixture.secretVariable))
            #expect(missing.errorLine.contains("client_secret"))
            #expect(fixture.server.statistics.requests(to: .token) == 1)
        }
    }

    @Test("an unknown field exits with 2 naming the field")
    func unknownFieldExit2() async throws {
        try await CLIFixture.with { fixture in
            let provider = try fixture.writeProvider(["tokn_endpoint": "https://typo.example/token"])
            let result = try await fixture.run(["token"] + fixture.keyArguments(provider: provider))
            #expect(result.status == 2, "\(result)")
            #expect(result.errorLine.contains("unknown field \"tokn_endpoint\""))
            expectNoSecrets(result, [fixture.clientSecret])
        }
    }

    @Test(
        "invalid provider files exit with 2 and name the problem",
        arguments: [
            ("allow_insecure_loopback", .bool(false), "https"),
            ("redirect_uri", .string("http://example.com/cb"), "redirect_uri"),
            ("client_auth", .string("private_key_jwt"), "client_auth"),
            ("grants", .array([.string("password")]), "grants"),
            ("grants", .string("client_credentials"), "grants"),
            ("pkce_required", .string("yes"), "pkce_required"),
            ("id", .null, "\"id\" is required"),
            ("client_secret", .string("prefix-${env:OAUTH_BROKER_CLI_TEST_SECRET}"), "whole value"),
            ("scope_delimiter", .string(",,"), "scope_delimiter"),
        ] as [(String, JSONValue, String)])
    func invalidProviderFilesExit2(field: String, value: JSONValue, expected: String) async throws {
        try await CLIFixture.with { fixture in
            let provider = try fixture.writeProvider([field: value.foundationValue])
            let result = try await fixture.run(["token"] + fixture.keyArguments(provider: provider))
            #expect(result.status == 2, "\(result)")
            #expect(result.errorLine.contains(expected), "\(result)")
            #expect(result.errorLine.contains("provider file"))
            expectNoSecrets(result, [fixture.clientSecret])
            #expect(fixture.server.statistics.totalRequests == 0)
        }
    }

    @Test("a provider file that is missing or not JSON exits with 2")
    func unreadableProviderFileExit2() async throws {
        try await CLIFixture.with { fixture in
            let missing = try await fixture.run(
                ["token"] + fixture.keyArguments(provider: "/nonexistent/provider.json"))
            #expect(missing.status == 2, "\(missing)")
            let path = "\(fixture.directory)/broken.json"
            try Data("{\"id\": ".utf8).write(to: URL(fileURLWithPath: path))
            let broken = try await fixture.run(["token"] + fixture.keyArguments(provider: path))
            #expect(broken.status == 2, "\(broken)")
            #expect(broken.errorLine.contains("not valid JSON"))
        }
    }
}
