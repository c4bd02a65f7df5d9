import Foundation
import OAuthBroker
import OAuthBrokerPostgres
import OAuthBrokerTools
import PostgresNIO
import Synchronization

/// The floor for `store-fetch` and `store-cas` on PostgreSQL: a plain postgres-nio loop on a `PostgresClient` of
/// its own (same server, schema and pool size as the store), running the store's own SQL as named prepared
/// statements, with no codec, no error mapping and no per-call deadline.
enum PostgresBaseline {
    struct Select: PostgresPreparedStatement {
        static let sql = "SELECT version, blob FROM oauth_broker_records WHERE storage_id = $1"
        typealias Row = (Int64, ByteBuffer)
        var storageID: String
        func makeBindings() -> PostgresBindings {
            var bindings = PostgresBindings(capacity: 1)
            bindings.append(storageID)
            return bindings
        }
        func decodeRow(_ row: PostgresRow) throws -> Row { try row.decode(Row.self) }
    }

    struct Swap: PostgresPreparedStatement {
        static let sql = """
            UPDATE oauth_broker_records SET version = $3, blob = $4, updated_at = now()
            WHERE storage_id = $1 AND version = $2 RETURNING version
            """
        typealias Row = Int64
        var storageID: String
        var expected: Int64
        var version: Int64
        var blob: ByteBuffer
        func makeBindings() -> PostgresBindings {
            var bindings = PostgresBindings(capacity: 4)
            bindings.append(storageID)
            bindings.append(expected)
            bindings.append(version)
            bindings.append(blob)
            return bindings
        }
        func decodeRow(_ row: PostgresRow) throws -> Row { try row.decode(Int64.self) }
    }

    /// Runs `body` with a running client for the store URL `url` (password as the executables find it).
    static func withClient<T: Sendable>(
        url: String, _ body: @escaping @Sendable (PostgresClient) async throws -> T
    ) async throws -> T {
        let store = try PostgresStore.Configuration(url: url)
        let password =
            store.password
            ?? PostgresPassFile.password(
                host: store.host, port: store.port, database: store.database ?? store.username,
                username: store.username)
        var configuration = PostgresClient.Configuration(
            host: store.host, port: store.port, username: store.username, password: password?.revealedValue,
            database: store.database, tls: .disable)
        configuration.options.maximumConnections = store.maximumConnections
        if let schema = store.schema { configuration.options.additionalStartupParameters = [("search_path", schema)] }
        let client = PostgresClient(configuration: configuration)
        let runner = Task { await client.run() }
        defer { runner.cancel() }
        return try await body(client)
    }

    /// `tasks` tasks read `key`'s row for `duration`.
    static func selectLoop(url: String, key: StoreKey, tasks: Int, duration: Duration) async throws -> Throughput {
        try await withClient(url: url) { client in
            let statement = Select(storageID: key.storageID)
            return try await Workers.timed(tasks: tasks, duration: duration) { _ in
                var found = false
                for try await _ in try await client.execute(statement) { found = true }
                guard found else { throw BenchError("the baseline SELECT found no row") }
            }
        }
    }

    /// `tasks` tasks each compare-and-swap their own row (`keys[task]`, at `versions[task]`) for `duration`,
    /// writing `blob`.
    static func swapLoop(
        url: String, keys: [StoreKey], versions: [UInt64], blob: [UInt8], duration: Duration
    ) async throws -> Throughput {
        try await withClient(url: url) { client in
            let state = BaselineVersions(versions)
            let buffer = ByteBuffer(bytes: blob)
            return try await Workers.timed(tasks: keys.count, duration: duration) { task in
                let expected = state.get(task)
                let statement = Swap(
                    storageID: keys[task].storageID, expected: Int64(bitPattern: expected),
                    version: Int64(bitPattern: expected &+ 1), blob: buffer)
                var swapped = false
                for try await _ in try await client.execute(statement) { swapped = true }
                guard swapped else { throw BenchError("the baseline UPDATE … WHERE version matched no row") }
                state.set(task, expected &+ 1)
            }
        }
    }
}

/// Each baseline task's current version; a task touches only its own slot.
private final class BaselineVersions: Sendable {
    private final class Slot: Sendable {
        let version: Mutex<UInt64>
        init(_ version: UInt64) { self.version = Mutex(version) }
    }

    private let slots: [Slot]
    init(_ versions: [UInt64]) { slots = versions.map(Slot.init) }
    func get(_ task: Int) -> UInt64 { slots[task].version.withLock { $0 } }
    func set(_ task: Int, _ version: UInt64) { slots[task].version.withLock { $0 = version } }
}
