import Foundation
import OAuthBroker
import OAuthBrokerTesting
import Testing

/// The shared Redis test server: `OAUTH_BROKER_REDIS_URL`. Without it the test that needs it is skipped locally;
/// under CI (`CI` set) it runs and fails, so a missing server is never silent.
private let redisURL = ProcessInfo.processInfo.environment["OAUTH_BROKER_REDIS_URL"].flatMap { $0.isEmpty ? nil : $0 }
private let isCI = !(ProcessInfo.processInfo.environment["CI"] ?? "").isEmpty

@Suite("oauth-broker with redis:// stores")
struct RedisStoreCLITests {
    @Test("Redis down (a closed port) exits with 4 for token and list, without printing the password")
    func redisDownExit4() async throws {
        try await CLIFixture.with { fixture in
            let closed = try ReservedClosedPort()
            let port = closed.port
            let password = "redis-password-\(UInt64.random(in: .min ... .max))"
            let store = "redis://broker:\(password)@127.0.0.1:\(port)/0"
            let provider = try fixture.writeProvider()
            let token = try await fixture.run(["token"] + fixture.keyArguments(provider: provider, store: store))
            #expect(token.status == 4, "\(token)")
            #expect(token.errorLine.contains("store_unavailable"))
            #expect(fixture.server.statistics.totalRequests == 0)
            let list = try await fixture.run(["list", "--store", store])
            #expect(list.status == 4, "\(list)")
            for result in [token, list] { expectNoSecrets(result, [password, fixture.clientSecret]) }
            withExtendedLifetime(closed) {}
        }
    }

    @Test("a malformed Redis URL exits with 2")
    func badRedisURLExit2() async throws {
        let result = try await CLI.run(["list", "--store", "redis://127.0.0.1:notaport/0"])
        #expect(result.status == 2, "\(result)")
        #expect(result.errorLine.contains("--store"))
    }

    @Test(
        "token and list work against a live Redis",
        .enabled(if: redisURL != nil || isCI, "needs OAUTH_BROKER_REDIS_URL (a redis-server on loopback)"))
    func liveRedis() async throws {
        let store = try #require(redisURL, "OAUTH_BROKER_REDIS_URL is not set, and CI is: a Redis server is required")
        try await CLIFixture.with { fixture in
            let provider = try fixture.writeProvider()
            let tenant = "cli-\(UInt64.random(in: .min ... .max))"
            let arguments = fixture.keyArguments(provider: provider, store: store, tenant: tenant, principal: "svc")
            let first = try await fixture.run(["token", "--format", "raw"] + arguments)
            #expect(first.status == 0, "\(first)")
            let second = try await fixture.run(["token", "--format", "raw"] + arguments)
            #expect(second.stdout == first.stdout)
            #expect(fixture.server.statistics.requests(to: .token) == 1)
            let list = try await fixture.run(["list", "--store", store, "--tenant", tenant])
            #expect(list.status == 0, "\(list)")
            #expect(list.stdout.contains("mock/\(tenant)/svc/"))
            expectNoSecrets(list, [fixture.clientSecret, first.stdout.trimmingCharacters(in: .newlines)])
            let revoke = try await fixture.run(["revoke"] + arguments)
            #expect(revoke.status == 0, "\(revoke)")
        }
    }
}
