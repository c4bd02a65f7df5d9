import Foundation
import OAuthBroker
import OAuthBrokerRedis
import OAuthBrokerTesting
import Testing

/// Brokers that each have their own `RedisStore` (their own connections, as separate processes would) coordinate
/// refreshes through the store's leases.
@Suite("Brokers sharing a RedisStore", .enabled(if: RedisTestEnvironment.hasServer, "needs OAUTH_BROKER_REDIS_URL"))
struct RedisBrokerTests {
    @Test("a fleet of brokers refreshes an expired token exactly once")
    func fleetRefreshesOnce() async throws {
        let configuration = try RedisTestEnvironment.configuration()
        let provider = try ProviderDescriptor(
            id: ProviderID("acme"), tokenEndpoint: URL(string: "https://idp.example.com/oauth/token")!,
            clientID: "client-1", clientSecret: Secret("client-secret"), grants: [.refreshToken])
        // One upstream shared by every broker, slow enough that the brokers overlap.
        let transport = FakeTransport(
            latency: .milliseconds(300), responder: .issuingTokens(rotatesRefreshTokens: true))
        let stores = try (0..<4).map { _ in try RedisStore(configuration: configuration) }
        let brokers = try stores.map { store in
            try Broker(provider: provider, store: store, transport: transport, errorMapper: PassthroughErrorMapper())
        }

        let key = try StoreKey(provider: "acme", tenant: "fleet", principal: "user-1", scopes: ["read"])
        let issued = Date().addingTimeInterval(-7200)
        let expired = TokenRecord(
            accessToken: Secret("at-old"), refreshToken: Secret("rt-old"), scopes: ["read"], issuedAt: issued,
            expiresAt: issued.addingTimeInterval(3600), version: TokenRecord.initialVersion(at: issued))
        #expect(try await stores[0].insert(expired, for: key) == .inserted(expired))

        let tokens = try await withThrowingTaskGroup(of: String.self) { group in
            for index in 0..<16 {
                let broker = brokers[index % brokers.count]
                group.addTask { try await broker.accessToken(for: key).value.revealedValue }
            }
            return try await group.reduce(into: [String]()) { $0.append($1) }
        }
        #expect(transport.requestCount(grant: .refreshToken) == 1, "the fleet refreshed more than once")
        #expect(Set(tokens) == ["at-1"])
        let stored = try #require(try await stores[1].record(for: key))
        #expect(stored.accessToken == Secret("at-1"))
        #expect(stored.refreshToken == Secret("rt-1"))
        #expect(stored.version == expired.version + 1)
        #expect(try await stores[2].command("EXISTS", stores[2].leaseKeyName(key)) == .integer(0), "lease not released")
        try await stores[0].deleteAllKeysUnderPrefix()
    }
}
