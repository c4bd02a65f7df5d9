import Foundation
import OAuthBroker
import OAuthBrokerPostgres
import OAuthBrokerTesting
import PostgresNIO
import Testing

/// Where the shared test server is, from the environment.
///
/// `OAUTH_BROKER_POSTGRES_URL` (for example `postgres://oauth_broker:oauth_broker@127.0.0.1:5440/oauth_broker`)
/// names the server. Without it, tests that need it are skipped locally, but under CI (`CI` set) they run and fail,
/// so a missing server is never silent. Each test works in a schema of its own (the store's `schema` option), so
/// tests run in parallel and repeatedly; it drops the schema at the end.
enum PostgresTestEnvironment {
    static let url = ProcessInfo.processInfo.environment["OAUTH_BROKER_POSTGRES_URL"].flatMap {
        $0.isEmpty ? nil : $0
    }
    static let isCI = ProcessInfo.processInfo.environment["CI"].map { !$0.isEmpty } ?? false
    /// Whether tests needing the shared server run: a URL is set, or this is CI (where they then fail loudly).
    static let hasServer = url != nil || isCI

    /// The shared server's URL, required.
    static func requiredURL(sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
        try #require(
            url, "OAUTH_BROKER_POSTGRES_URL is not set, and CI is: a PostgreSQL test server is required",
            sourceLocation: sourceLocation)
    }

    /// A fresh schema name.
    static func uniqueSchema() -> String {
        "oauth_broker_test_\(String(UInt64.random(in: 0...UInt64.max), radix: 16))"
    }

    /// The shared server's URL with a fresh schema.
    static func urlWithFreshSchema(sourceLocation: SourceLocation = #_sourceLocation) throws -> (String, String) {
        let base = try requiredURL(sourceLocation: sourceLocation)
        let schema = uniqueSchema()
        return (base + (base.contains("?") ? "&" : "?") + "schema=\(schema)", schema)
    }

    /// The configuration of the shared server, in a fresh schema.
    static func configuration(
        sourceLocation: SourceLocation = #_sourceLocation,
        _ adjust: (inout PostgresStore.Configuration) -> Void = { _ in }
    ) throws -> PostgresStore.Configuration {
        var configuration = try PostgresStore.Configuration(url: requiredURL(sourceLocation: sourceLocation))
        configuration.schema = uniqueSchema()
        configuration.operationTimeout = .seconds(30)
        // Dozens of these stores run at once; a small pool keeps the shared server below its connection limit.
        configuration.maximumConnections = 4
        adjust(&configuration)
        return configuration
    }

    /// A store on the shared server in a fresh schema.
    static func store(
        codec: any StoreCodec = JSONStoreCodec(), sourceLocation: SourceLocation = #_sourceLocation,
        _ adjust: (inout PostgresStore.Configuration) -> Void = { _ in }
    ) async throws -> PostgresStore {
        try await PostgresStore(configuration: configuration(sourceLocation: sourceLocation, adjust), codec: codec)
    }
}

extension PostgresStore {
    /// Drops the store's schema (tests clean up after themselves), then shuts the store down.
    func dropSchemaAndShutdown() async throws {
        if let schema = configuration?.schema {
            // An identifier the configuration validated; identifiers cannot be bound parameters.
            try await client.query(PostgresQuery(unsafeSQL: "DROP SCHEMA IF EXISTS \(schema) CASCADE"))
        }
        await shutdown()
    }
}

/// Waits, in bounded steps, until `condition` holds.
func eventually(
    attempts: Int = 200, every interval: Duration = .milliseconds(50), _ condition: () async -> Bool
) async -> Bool {
    for _ in 0..<attempts {
        if await condition() { return true }
        try? await Task.sleep(for: interval)
    }
    return false
}
