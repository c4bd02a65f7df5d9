import Foundation
import OAuthBroker
import OAuthBrokerCurl
import OAuthBrokerRedis
import OAuthBrokerTesting
import Testing

/// A refresh whose store write meets a paused Redis (SIGSTOP) after the provider (the mock, through libcurl) has
/// rotated the refresh token: the command times out, may still run once the server resumes (an ambiguous
/// failure), and the broker must end with the rotated token stored and the token family alive.
@Suite(
    "Redis rotation under a paused server",
    .enabled(if: RedisTestEnvironment.hasRedisServerBinary, "needs redis-server on PATH"),
    .timeLimit(.minutes(2)))
struct RedisRotationFaultTests {
    @Test("a rotated token whose write meets a paused Redis is stored after the server resumes")
    func pausedRedisDuringWrite() async throws {
        let redis = try await RedisServerProcess.start()
        var storeConfiguration = try RedisStore.Configuration(url: redis.url())
        storeConfiguration.keyPrefix = RedisTestEnvironment.uniquePrefix()
        storeConfiguration.commandTimeout = .milliseconds(300)
        storeConfiguration.connectTimeout = .milliseconds(300)
        let store = try RedisStore(configuration: storeConfiguration)

        var configuration = MockAuthorizationServer.Configuration()
        configuration.rotatesRefreshTokens = true
        configuration.revokesFamilyOnReuse = true
        try await MockAuthorizationServer.withRunningServer(configuration: configuration) { server in
            server.registerClient(id: "redis-client", secret: Secret("redis-secret"))
            let key = try StoreKey(provider: "mock", tenant: "t", principal: "u")
            let grant = try await server.seedExpiredGrant(clientID: "redis-client", in: store, for: key).grant
            let provider = try server.providerDescriptor(
                id: ProviderID("mock"), clientID: "redis-client", clientSecret: Secret("redis-secret"),
                grants: [.refreshToken])
            var brokerConfiguration = BrokerConfiguration()
            brokerConfiguration.storeWriteTimeout = .seconds(20)
            let broker = try Broker(provider: provider, store: store, configuration: brokerConfiguration)
            defer { broker.transport.shutdown() }

            // The provider processes the refresh at once (rotating the token) and sends the body 1 s later.
            server.enqueue(.slowBody(delay: .seconds(1)))
            async let token = broker.accessToken(for: key)
            #expect(
                await eventually(every: .milliseconds(10)) { server.statistics.refreshGrantsSucceeded == 1 })
            // While the answer is on its way, Redis stops answering for 2.5 s (eight command timeouts).
            redis.freeze()
            try await Task.sleep(for: .milliseconds(2500))
            redis.thaw()

            let value = try await token.value
            let stored = try #require(try await store.record(for: key))
            #expect(stored.accessToken == value)
            let rotated = try #require(stored.refreshToken)
            #expect(rotated != grant.refreshToken)
            #expect(server.isActive(refreshToken: rotated))
            _ = try await broker.refresh(key, force: true)
            #expect(server.statistics.requests(grant: .refreshToken) == 2)
            #expect(server.statistics.familiesRevokedByReuseDetection == 0)
        }
        await store.shutdown()
        try await redis.stop()
    }
}
