public import Foundation
public import Logging
public import OAuthBroker
public import PostgresNIO
import Synchronization

/// A ``OAuthBroker/BrokerStore`` in PostgreSQL, on postgres-nio's `PostgresClient`: the shared store for a fleet of
/// broker processes on many hosts that already run PostgreSQL.
///
/// - Insert-if-absent is one `INSERT … ON CONFLICT DO NOTHING RETURNING`; compare-and-swap is one
///   `UPDATE … WHERE storage_id = $1 AND version = $n RETURNING`, so writers on different hosts never interleave
///   inside an operation. Status updates lock the row (`SELECT … FOR UPDATE`) in a transaction.
/// - Sessions are single-use: ``takeSession(id:)`` is one `DELETE … RETURNING` (in a transaction, so a session the
///   codec cannot decode is rolled back rather than lost).
/// - Refresh leases are rows with an owner and an expiry computed by the **server's** clock
///   (`clock_timestamp()`), so hosts with skewed clocks still agree on when a lease ends; release checks the owner.
///   ``providesRefreshLeases`` is `true`.
/// - Every statement is a named prepared statement with bound parameters; no value is ever put into SQL text.
///
/// The schema (version 1), its migrations and the "due for refresh" index are documented in the package's
/// `PostgresSchema` source and in the module's documentation.
///
/// ## Who runs the client
/// - ``init(configuration:codec:now:logger:)`` **owns** its `PostgresClient`: it runs the migrations on a direct
///   connection (so a wrong password or a missing database fails the initialiser at once), then starts the client's
///   `run()` in a task of its own, so the store works at once, without a `ServiceGroup`. ``shutdown()`` (or the
///   store's ``run()`` as a `Service`, on graceful shutdown) closes the client; short-lived processes such as the
///   CLI call ``shutdown()`` before exiting.
/// - ``init(client:codec:now:operationTimeout:logger:)`` uses **the application's** `PostgresClient`, which the
///   application runs (for example in its `ServiceGroup`) and closes. The store never runs or closes it; if the
///   client is not running, every call (the initialiser's migrations included) ends with
///   ``OAuthBroker/BrokerError/Code/storeUnavailable`` after the operation timeout.
///
/// ## Failures
/// Every call ends within the operation timeout: while the server is down or unreachable, calls throw
/// ``OAuthBroker/BrokerError/Code/storeUnavailable`` (transient), and the client reconnects by itself when the
/// server is back. Rejected credentials, an unknown role or database throw
/// ``OAuthBroker/BrokerError/Code/invalidConfiguration`` (not transient). No error or description shows the password.
///
/// - Important: A write that times out may still have been applied by the server. The version check makes that
///   safe for compare-and-swap: the caller re-reads and sees its own write as the current record.
/// - Important: Tokens are stored as the codec encodes them (``OAuthBroker/JSONStoreCodec``: in the clear). Restrict
///   the tables to the broker's role, or pass a ``OAuthBroker/SealingStoreCodec``.
public final class PostgresStore: ResealableStore {
    /// The schema version this release creates and reads: `1`.
    public static var schemaVersion: Int { PostgresSchema.latestVersion }

    /// The configuration of an owned client; `nil` when the store uses the application's client.
    public let configuration: Configuration?
    /// The client every operation runs on.
    public let client: PostgresClient
    let codec: any StoreCodec
    let now: @Sendable () -> Date
    let operationTimeout: Duration
    let logger: Logger
    /// The task running an owned client's `run()`; `nil` for the application's client or after shutdown.
    private let runTask: Mutex<Task<Void, Never>?>

    /// Connects with `configuration`, creates or migrates the schema, and starts running a client the store owns.
    /// - Parameters:
    ///   - configuration: Where and how to connect.
    ///   - codec: How records and sessions become bytes; ``OAuthBroker/JSONStoreCodec`` by default.
    ///   - now: The wall clock for session expiry; the system clock by default. Lease expiry uses the server's clock.
    ///   - logger: Where postgres-nio logs queries and background events; nothing is logged by default.
    /// - Throws: ``OAuthBroker/BrokerError``: `invalidConfiguration` for a bad configuration, rejected credentials,
    ///   an unknown role or database; `storeUnavailable` when the server cannot be reached within the connect
    ///   timeout; `storeFailed` for a schema newer than this release.
    public init(
        configuration: Configuration, codec: any StoreCodec = JSONStoreCodec(),
        now: @escaping @Sendable () -> Date = { Date() },
        logger: Logger = Logger(label: "oauth-broker.postgres", factory: { _ in SwiftLogNoOpLogHandler() })
    ) async throws {
        try configuration.validate()
        let connectionConfiguration: PostgresConnection.Configuration
        do {
            connectionConfiguration = try configuration.connectionConfiguration()
        } catch {
            throw BrokerError(.invalidConfiguration, "PostgresStore: the TLS configuration could not be built")
        }
        try await PostgresDeadline.run(configuration.operationTimeout, during: "migrating the schema") {
            let connection = try await PostgresConnection.connect(
                configuration: connectionConfiguration, id: 0, logger: logger)
            do {
                try await PostgresSchema.migrate(on: connection, schema: configuration.schema, logger: logger)
            } catch {
                try? await connection.close()
                throw error
            }
            try? await connection.close()
        }
        self.configuration = configuration
        self.codec = codec
        self.now = now
        self.operationTimeout = configuration.operationTimeout
        self.logger = logger
        let client = PostgresClient(configuration: configuration.clientConfiguration, backgroundLogger: logger)
        self.client = client
        self.runTask = Mutex(Task { await client.run() })
    }

    /// Creates a store from a `postgres://` URL (see ``Configuration/init(url:)``).
    /// - Parameters:
    ///   - url: `postgres://user[:password]@host[:port]/database[?schema=…]`.
    ///   - codec: How records and sessions become bytes; ``OAuthBroker/JSONStoreCodec`` by default.
    /// - Throws: As ``init(configuration:codec:now:logger:)``, and `invalidConfiguration` for a bad URL.
    public convenience init(url: String, codec: any StoreCodec = JSONStoreCodec()) async throws {
        try await self.init(configuration: Configuration(url: url), codec: codec)
    }

    /// Uses the application's `PostgresClient` (which the application runs and closes), creating or migrating the
    /// schema in the client's current schema (the first existing one of its `search_path`).
    /// - Parameters:
    ///   - client: A client whose `run()` the application runs; to use another schema than `public`, give the
    ///     client a `search_path` startup parameter (`options.additionalStartupParameters`).
    ///   - codec: How records and sessions become bytes; ``OAuthBroker/JSONStoreCodec`` by default.
    ///   - now: The wall clock for session expiry; the system clock by default.
    ///   - operationTimeout: The longest one store call may take, waiting for a connection included.
    ///   - logger: Where postgres-nio logs the store's queries; nothing is logged by default.
    /// - Throws: ``OAuthBroker/BrokerError``: `storeUnavailable` when no connection comes within the timeout (the
    ///   client is not running, or the server is down); `storeFailed` for a schema newer than this release.
    public init(
        client: PostgresClient, codec: any StoreCodec = JSONStoreCodec(),
        now: @escaping @Sendable () -> Date = { Date() }, operationTimeout: Duration = .seconds(10),
        logger: Logger = Logger(label: "oauth-broker.postgres", factory: { _ in SwiftLogNoOpLogHandler() })
    ) async throws {
        guard operationTimeout > .zero else {
            throw BrokerError(.invalidConfiguration, "PostgresStore: operationTimeout must be positive")
        }
        try await PostgresDeadline.run(operationTimeout, during: "migrating the schema") {
            try await client.withConnection { connection in
                try await PostgresSchema.migrate(on: connection, schema: nil, logger: logger)
            }
        }
        self.configuration = nil
        self.client = client
        self.codec = codec
        self.now = now
        self.operationTimeout = operationTimeout
        self.logger = logger
        self.runTask = Mutex(nil)
    }

    deinit {
        runTask.withLock { $0?.cancel() }
    }

    /// `postgres`.
    public var kind: String { "postgres" }

    /// `true`: leases are rows every process shares, timed by the server's clock.
    public var providesRefreshLeases: Bool { true }

    /// Closes an owned client (its connections end with a `Terminate` message) and waits until it has stopped.
    /// Calls made afterwards throw ``OAuthBroker/BrokerError/Code/storeFailed``. Does nothing for the
    /// application's client, and nothing a second time.
    public func shutdown() async {
        let task = runTask.withLock { task -> Task<Void, Never>? in
            defer { task = nil }
            return task
        }
        guard let task else { return }
        task.cancel()
        await task.value
    }

    /// Sends `SELECT 1`: checks the server is reachable and accepts the credentials.
    /// - Throws: ``OAuthBroker/BrokerError`` as every store call.
    public func ping() async throws {
        try await perform("PING") { client in
            try await client.query("SELECT 1", logger: self.logger)
        }
    }

    // MARK: - Helpers shared by the extensions

    /// Runs one operation on the client within the operation timeout, mapping every failure to a ``BrokerError``.
    @discardableResult
    func perform<T: Sendable>(
        _ operation: String, key: StoreKey? = nil, _ body: @escaping @Sendable (PostgresClient) async throws -> T
    ) async throws -> T {
        let client = self.client
        return try await PostgresDeadline.run(operationTimeout, during: operation, key: key) {
            try await body(client)
        }
    }

    /// Runs `body` in one transaction on one pooled connection (`BEGIN` … `COMMIT`, `ROLLBACK` when it throws),
    /// within the operation timeout.
    func transaction<T: Sendable>(
        _ operation: String, key: StoreKey? = nil,
        _ body: @escaping @Sendable (PostgresConnection) async throws -> T
    ) async throws -> T {
        let logger = self.logger
        return try await perform(operation, key: key) { client in
            try await client.withConnection { connection in
                try await connection.query("BEGIN", logger: logger)
                let value: T
                do {
                    value = try await body(connection)
                } catch {
                    _ = try? await connection.query("ROLLBACK", logger: logger)
                    throw error
                }
                try await connection.query("COMMIT", logger: logger)
                return value
            }
        }
    }
}
