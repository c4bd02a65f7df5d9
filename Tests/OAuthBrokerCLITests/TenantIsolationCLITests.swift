import Foundation
import OAuthBroker
import OAuthBrokerTesting
import Testing

@Suite("oauth-broker: identifiers compare byte for byte")
struct TenantIsolationCLITests {
    @Test(
        "principals jos\\u{E9} and jose\\u{301} get two tokens and two records in the file and SQLite stores",
        arguments: ["file", "sqlite"])
    func canonicallyEquivalentPrincipals(kind: String) async throws {
        try await CLIFixture.with { fixture in
            let provider = try fixture.writeProvider()
            let store = kind == "file" ? "file:\(fixture.directory)/tokens.json" : "sqlite:\(fixture.directory)/t.db"
            var tokens: [String] = []
            for principal in ["jos\u{E9}", "jose\u{301}", "jos\u{E9}"] {
                let result = try await fixture.run(
                    ["token", "--format", "raw"]
                        + fixture.keyArguments(provider: provider, store: store, principal: principal))
                #expect(result.status == 0, "\(result)")
                tokens.append(result.stdout)
            }
            #expect(tokens[0] != tokens[1], "jose\\u{301} was served jos\\u{E9}'s token")
            #expect(tokens[2] == tokens[0], "jos\\u{E9}'s own token was not served from the store")
            #expect(fixture.server.statistics.requests(to: .token) == 2)
            let list = try await fixture.run(["list", "--store", store, "--format", "json"])
            #expect(list.status == 0, "\(list)")
            let rows = try #require(try JSONSerialization.jsonObject(with: Data(list.stdout.utf8)) as? [[String: Any]])
            let principals = rows.compactMap { $0["principal"] as? String }
            #expect(principals.count == 2)
            #expect(Set(principals.map { Array($0.utf8) }) == [Array("jos\u{E9}".utf8), Array("jose\u{301}".utf8)])
        }
    }
}
