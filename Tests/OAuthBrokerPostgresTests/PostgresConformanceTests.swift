import Logging
import OAuthBroker
import OAuthBrokerPostgres
import OAuthBrokerTesting
import PostgresNIO
import Testing

@Suite(
    "PostgresStore conformance", .enabled(if: PostgresTestEnvironment.hasServer, "needs OAUTH_BROKER_POSTGRES_URL"),
    .timeLimit(.minutes(5)))
struct PostgresConformanceTests {
    @Test("conformance, plain and sealed", arguments: StoreConformance.Check.all, [false, true])
    func conformance(_ check: StoreConformance.Check, sealed: Bool) async throws {
        let codec: any StoreCodec =
            sealed ? try SealingStoreCodec(keys: [.random(id: "conformance")]) : JSONStoreCodec()
        let store = try await PostgresTestEnvironment.store(codec: codec)
        // The sealed run checks the codec path; the plain run keeps the full-strength race.
        let options = sealed ? StoreConformance.Options(concurrentTasks: 16, attemptsPerTask: 50) : .init()
        do {
            try await StoreConformance(options: options) { store }.run(check)
        } catch {
            try? await store.dropSchemaAndShutdown()
            throw error
        }
        try await store.dropSchemaAndShutdown()
    }

    @Test("conformance on an application's PostgresClient (which the application runs), pool of two connections")
    func conformanceOnApplicationClient() async throws {
        let owned = try PostgresTestEnvironment.configuration { $0.maximumConnections = 2 }
        let schema = try #require(owned.schema)
        // The application's client, with the store's schema as its search_path.
        var configuration = PostgresClient.Configuration(
            host: owned.host, port: owned.port, username: owned.username,
            password: owned.password?.revealedValue, database: owned.database, tls: .disable)
        configuration.options.maximumConnections = 2
        configuration.options.additionalStartupParameters = [("search_path", "\(schema),public")]
        let client = PostgresClient(configuration: configuration)
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask { await client.run() }
            try await client.query(PostgresQuery(unsafeSQL: "CREATE SCHEMA \(schema)"))
            let store = try await PostgresStore(client: client, operationTimeout: .seconds(30))
            try await StoreConformance(options: .init(concurrentTasks: 8, attemptsPerTask: 25)) { store }.run()
            await store.shutdown()  // does nothing to the application's client
            try await client.query("SELECT 1")
            try await client.query(PostgresQuery(unsafeSQL: "DROP SCHEMA \(schema) CASCADE"))
            group.cancelAll()
        }
    }

    @Test("an application's PostgresClient that is not running: storeUnavailable within the operation timeout")
    func clientNotRunning() async throws {
        let owned = try PostgresTestEnvironment.configuration()
        let client = PostgresClient(
            configuration: PostgresClient.Configuration(
                host: owned.host, port: owned.port, username: owned.username,
                password: owned.password?.revealedValue, database: owned.database, tls: .disable))
        let clock = ContinuousClock()
        let started = clock.now
        await #expect(throws: BrokerError.storeUnavailable) {
            _ = try await PostgresStore(client: client, operationTimeout: .milliseconds(500))
        }
        #expect(clock.now - started < .seconds(10))
    }
}
