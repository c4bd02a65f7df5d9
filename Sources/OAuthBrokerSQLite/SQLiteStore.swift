public import Foundation
public import OAuthBroker
import Synchronization

/// A ``OAuthBroker/BrokerStore`` in an SQLite database file, shared safely by every process on the machine.
///
/// - Compare-and-swap, insert and status updates each run in one `BEGIN IMMEDIATE` transaction, so they are
///   atomic across connections and processes. Sessions and refresh leases have their own tables; taking a
///   session is one `DELETE … RETURNING` (single use); a lease is one conditional upsert.
/// - WAL journal mode lets readers in other processes run alongside the writer; `busy_timeout` makes a writer
///   wait for another process's transaction, and a wait longer than it fails with
///   ``OAuthBroker/BrokerError/Code/storeUnavailable``.
/// - The database file is created with mode `0600` (SQLite gives its `-wal` and `-shm` files the same mode), and
///   at every open an existing database, `-wal` or `-shm` file with another mode is set to `0600`; one whose mode
///   cannot be changed (another user owns it) is refused with `invalidConfiguration`, naming the file and its mode.
/// - Errors: `SQLITE_BUSY`/`SQLITE_LOCKED` after the timeout → `storeUnavailable`; `SQLITE_CORRUPT`,
///   `SQLITE_NOTADB` or an undecodable row → `storeCorrupted` (the file is never modified or replaced);
///   anything else → `storeFailed`.
///
/// ## Connections
/// Each `SQLiteStore` owns one writer connection and (for a database file) ``Configuration/readerConnections``
/// read-only connections, each confined to an actor whose executor is a private serial `DispatchQueue`, so
/// blocking `sqlite3_step` calls (and busy waits) never run on Swift's cooperative pool. Every write (and every
/// read inside a write transaction) runs on the writer; ``record(for:)`` and ``keys(tenant:)`` are single
/// `SELECT`s that run on a reader, chosen round-robin. WAL lets them run alongside the writer, and each starts a
/// new read transaction, so a read sees every write that committed before it began (a write returns only after
/// its commit). Blobs are decoded by the caller, off the connection's queue. Processes (or additional
/// `SQLiteStore` instances) on the same file get their own connections. Prepared statements are cached per
/// connection.
///
/// The schema (version 2) is documented on ``schemaVersion``; record and session blobs come from the
/// configured ``OAuthBroker/StoreCodec``.
public final class SQLiteStore: ResealableStore {
    /// SQLite's `synchronous` setting: how hard a commit waits for the disk.
    public struct Synchronous: Sendable, Hashable, CustomStringConvertible {
        private enum Value: String, Sendable {
            case normal = "NORMAL"
            case full = "FULL"
        }
        private let value: Value

        /// `NORMAL`: with WAL, a commit survives a process crash but may be lost on power failure. Faster.
        public static let normal = Synchronous(value: .normal)
        /// `FULL`: the WAL is synced on every commit, so a commit (a rotated refresh token) survives power loss.
        public static let full = Synchronous(value: .full)

        var pragmaValue: String { value.rawValue }

        /// `NORMAL` or `FULL`.
        public var description: String { value.rawValue }
    }

    /// How an ``SQLiteStore`` is set up.
    public struct Configuration: Sendable {
        /// The database file (created if missing; its directory must exist), or `:memory:` for a private
        /// in-memory database (tests only: it is not shared).
        public var path: String
        /// How long a write waits for another connection's transaction before failing with
        /// ``OAuthBroker/BrokerError/Code/storeUnavailable``. Default 5 seconds.
        public var busyTimeout: Duration
        /// The durability of commits. Default ``Synchronous/full``: a rotated refresh token must not be lost.
        public var synchronous: Synchronous
        /// Encodes records and sessions. Default ``OAuthBroker/JSONStoreCodec``.
        public var codec: any StoreCodec
        /// How many read-only connections serve ``SQLiteStore/record(for:)`` and ``SQLiteStore/keys(tenant:)``
        /// alongside the writer. Default 2; `0` runs reads on the writer connection. Ignored (no readers) for
        /// `:memory:` and `file:` URI paths, whose connections might not share one database.
        public var readerConnections: Int = 2

        /// Creates a configuration.
        /// - Parameters:
        ///   - path: The database file.
        ///   - busyTimeout: The longest wait for the write lock.
        ///   - synchronous: Commit durability.
        ///   - codec: The record and session codec.
        public init(
            path: String, busyTimeout: Duration = .seconds(5), synchronous: Synchronous = .full,
            codec: any StoreCodec = JSONStoreCodec()
        ) {
            self.path = path
            self.busyTimeout = busyTimeout
            self.synchronous = synchronous
            self.codec = codec
        }
    }

    /// The schema version this release creates and reads: `2`. See `SQLiteSchema` (in the source) for the
    /// tables: `oauth_broker_schema(version, applied_at_ms)`, `oauth_broker_records(storage_id PK, provider,
    /// tenant, principal, scopes, version, blob, updated_at_ms)`, `oauth_broker_sessions(id PK, expires_at_ms,
    /// blob)`, `oauth_broker_leases(storage_id PK, owner, expires_at_ms)`; times are ms since 1970 UTC.
    public static var schemaVersion: Int { SQLiteSchema.latestVersion }

    /// The configuration in use.
    public let configuration: Configuration
    private let connection: SQLiteConnectionActor
    private let readers: [SQLiteConnectionActor]
    private let nextReader = Atomic<UInt>(0)
    let now: @Sendable () -> Date

    /// Opens (creating if needed) the database and migrates its schema, off the cooperative pool.
    /// - Parameters:
    ///   - configuration: The file, busy timeout, durability and codec.
    ///   - now: The wall clock for session expiry and lease time-to-live; the system clock by default.
    /// - Throws: ``OAuthBroker/BrokerError``: `invalidConfiguration` for an empty path, a negative timeout, or a
    ///   database, `-wal` or `-shm` file whose mode is not `0600` and cannot be changed;
    ///   `storeCorrupted` for a file that is not a database; `storeFailed` for a newer schema or I/O errors;
    ///   `storeUnavailable` if another process holds the database locked past the busy timeout.
    public init(configuration: Configuration, now: @escaping @Sendable () -> Date = { Date() }) async throws {
        guard !configuration.path.isEmpty else {
            throw BrokerError(.invalidConfiguration, "an SQLite store path must not be empty")
        }
        guard configuration.busyTimeout >= .zero else {
            throw BrokerError(.invalidConfiguration, "the SQLite busy timeout must not be negative")
        }
        guard (0...64).contains(configuration.readerConnections) else {
            throw BrokerError(.invalidConfiguration, "the SQLite reader connection count must be in 0...64")
        }
        self.configuration = configuration
        self.now = now
        connection = SQLiteConnectionActor(configuration: configuration)
        let sharesFile = configuration.path != ":memory:" && !configuration.path.hasPrefix("file:")
        readers = (0..<(sharesFile ? configuration.readerConnections : 0)).map {
            SQLiteConnectionActor(configuration: configuration, role: .reader(index: $0))
        }
        // The writer creates and migrates the database; readers open lazily afterwards.
        try await connection.withConnection { _ in }
    }

    /// Opens the database at `path` with the default configuration.
    /// - Parameter path: The database file.
    /// - Throws: As ``init(configuration:now:)``.
    public convenience init(path: String) async throws {
        try await self.init(configuration: Configuration(path: path))
    }

    var codec: any StoreCodec { configuration.codec }

    /// `sqlite`.
    public var kind: String { "sqlite" }

    /// `true`: leases live in the database, shared by every process that opens it.
    public var providesRefreshLeases: Bool { true }

    /// Runs one logical operation on the writer connection.
    func perform<T: Sendable>(_ body: @Sendable (SQLiteConnection) throws -> T) async throws -> T {
        try await connection.withConnection(body)
    }

    /// Runs one read-only statement on the next reader connection (round-robin), or on the writer if there are
    /// no readers.
    func performRead<T: Sendable>(_ body: @Sendable (SQLiteConnection) throws -> T) async throws -> T {
        guard !readers.isEmpty else { return try await connection.withConnection(body) }
        let ticket = nextReader.wrappingAdd(1, ordering: .relaxed).oldValue
        return try await readers[Int(ticket % UInt(readers.count))].withConnection(body)
    }

    static func millis(_ instant: Date) -> Int64 { Int64((instant.timeIntervalSince1970 * 1000).rounded(.down)) }

    /// Milliseconds since 1970 rounded up: lease expiries, so a lease never ends before its time-to-live.
    static func millisRoundedUp(_ instant: Date) -> Int64 {
        Int64((instant.timeIntervalSince1970 * 1000).rounded(.up))
    }
}
