import Foundation
import OAuthBroker
import OAuthBrokerPostgres
import OAuthBrokerTesting
import OAuthBrokerTools
import PostgresNIO
import Testing

/// Several OS processes (`oauth-broker-test-helper`, opening the store from a `postgres://` store URL) share one
/// PostgreSQL database.
@Suite(
    "PostgresStore shared between processes",
    .enabled(if: PostgresTestEnvironment.hasServer, "needs OAUTH_BROKER_POSTGRES_URL"), .timeLimit(.minutes(3)))
struct PostgresMultiProcessTests {
    static func helper(_ arguments: [String]) throws -> ChildProcess {
        try ChildProcess(executable: try TestExecutable.path("oauth-broker-test-helper"), arguments: arguments)
    }

    @Test("8 processes sharing one PostgreSQL schema refresh an expired token once")
    func refreshHerd() async throws {
        let (url, _) = try PostgresTestEnvironment.urlWithFreshSchema()
        let store = try await PostgresStore(url: url)
        try await withTemporaryDirectory { directory in
            let outcome = try await RefreshHerd.run(storeURL: url, store: store, directory: directory)
            let problems = outcome.problems(processCount: 8)
            #expect(problems.isEmpty, "\(problems.joined(separator: "; "))")
        }
        try await store.dropSchemaAndShutdown()
    }

    /// 8 processes open one store URL at the same moment; `where` is a fresh database (its `public` schema) or a
    /// fresh schema the store creates.
    @Test(
        "8 processes migrating one fresh database or schema at once apply the migration once",
        arguments: [
            "database", "schema",
        ])
    func concurrentMigration(_ target: String) async throws {
        let base = try PostgresTestEnvironment.requiredURL()
        let admin = try await PostgresStore(url: base)
        let name = PostgresTestEnvironment.uniqueSchema()
        let url: String
        if target == "database" {
            // Identifiers, not values: generated names of lower-case hex.
            try await admin.client.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(name)"))
            let configuration = try PostgresStore.Configuration(url: base)
            let password = configuration.password?.revealedValue ?? ""
            url = "postgres://\(configuration.username):\(password)@\(configuration.host):\(configuration.port)/\(name)"
        } else {
            url = base + (base.contains("?") ? "&" : "?") + "schema=\(name)"
        }
        try await withTemporaryDirectory { directory in
            let goFile = directory + "/go"
            let children = try (0..<8).map { _ in try Self.helper(["open", "--store", url, "--go-file", goFile]) }
            for child in children {
                var ready = false
                for await line in child.lines where line == "ready" {
                    ready = true
                    break
                }
                #expect(ready, "a child never became ready: \(child.standardError)")
            }
            _ = FileManager.default.createFile(atPath: goFile, contents: Data())
            for child in children {
                var opened = false
                for await line in child.lines where line == "opened" { opened = true }
                #expect(opened, "a process failed to open the store: \(child.standardError)")
                #expect(await child.exitStatus() == 0)
            }
        }
        let store = try await PostgresStore(url: url)
        var versions: [Int32] = []
        for try await version in try await store.client.query("SELECT version FROM oauth_broker_schema")
            .decode(Int32.self)
        {
            versions.append(version)
        }
        #expect(versions == [Int32(PostgresStore.schemaVersion)], "a migration was applied twice or not at all")
        let key = try StoreKey(provider: "p", tenant: "t", principal: "u")
        let record = TokenRecord(accessToken: Secret("a"), issuedAt: Date(), expiresAt: nil, version: 1 << 40)
        #expect(try await store.insert(record, for: key) == .inserted(record))
        if target == "database" {
            await store.shutdown()
            try await admin.client.query(PostgresQuery(unsafeSQL: "DROP DATABASE \(name) WITH (FORCE)"))
        } else {
            try await store.dropSchemaAndShutdown()
        }
        await admin.shutdown()
    }
}
