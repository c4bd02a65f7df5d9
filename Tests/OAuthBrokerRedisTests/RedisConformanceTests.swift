import OAuthBroker
import OAuthBrokerRedis
import OAuthBrokerTesting
import Testing

@Suite("RedisStore conformance", .enabled(if: RedisTestEnvironment.hasServer, "needs OAUTH_BROKER_REDIS_URL"))
struct RedisConformanceTests {
    @Test("conformance, plain and sealed", arguments: StoreConformance.Check.all, [false, true])
    func conformance(_ check: StoreConformance.Check, sealed: Bool) async throws {
        let codec: any StoreCodec =
            sealed ? try SealingStoreCodec(keys: [.random(id: "conformance")]) : JSONStoreCodec()
        let store = try RedisTestEnvironment.store(codec: codec)
        // The sealed run checks the codec path; the plain run keeps the full-strength race.
        let options = sealed ? StoreConformance.Options(concurrentTasks: 16, attemptsPerTask: 50) : .init()
        try await StoreConformance(options: options) { store }.run(check)
        try await store.deleteAllKeysUnderPrefix()
        await store.shutdown()
    }

    @Test("conformance with a pool of one connection")
    func conformanceWithOneConnection() async throws {
        let store = try RedisTestEnvironment.store { $0.poolSize = 1 }
        try await StoreConformance(options: .init(concurrentTasks: 16, attemptsPerTask: 25)) { store }.run()
        #expect(await store.connectionsOpened == 1)
        try await store.deleteAllKeysUnderPrefix()
    }
}
