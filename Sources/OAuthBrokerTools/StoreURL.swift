public import Foundation
public import OAuthBroker
import OAuthBrokerPostgres
import OAuthBrokerRedis
import OAuthBrokerSQLite
import Synchronization

/// A store named by a URL, as the executables accept it on the command line:
///
/// | URL | store |
/// |---|---|
/// | `memory:` | ``OAuthBroker/MemoryStore`` (gone when the process exits) |
/// | `file:PATH`, `file:///abs/path` | ``OAuthBroker/FileStore`` at `PATH` |
/// | `sqlite:PATH`, `sqlite:///abs/path` | `SQLiteStore` at `PATH` |
/// | `redis://[user:password@]host[:port][/db][?prefix=…]` | `RedisStore` (see `RedisStore.Configuration(url:)`) |
/// | `postgres://user[:password]@host[:port]/db[?schema=…]`, `postgresql://…` | `PostgresStore` (see `PostgresStore.Configuration(url:)`); without a password in the URL, `PGPASSWORD`, then ``PostgresPassFile`` |
///
/// `PATH` may be relative (to the working directory). No printed form (``description``, `dump`) shows a password.
public struct StoreURL: Sendable, Hashable, CustomStringConvertible, CustomReflectable {
    /// Which kind of store a URL names.
    public struct Kind: Sendable, Hashable, CustomStringConvertible {
        private enum Value: String, Sendable { case memory, file, sqlite, redis, postgres }
        private let value: Value

        /// `memory:`.
        public static let memory = Kind(value: .memory)
        /// `file:`.
        public static let file = Kind(value: .file)
        /// `sqlite:`.
        public static let sqlite = Kind(value: .sqlite)
        /// `redis://`.
        public static let redis = Kind(value: .redis)
        /// `postgres://` or `postgresql://`.
        public static let postgres = Kind(value: .postgres)

        /// The scheme name.
        public var description: String { value.rawValue }
    }

    /// The kind of store.
    public let kind: Kind
    /// The file path for `file:` and `sqlite:` URLs; `nil` otherwise.
    public let path: String?
    /// The URL as given (it may contain a Redis password: never print it).
    let string: String

    /// Parses a store URL.
    /// - Parameter string: For example `sqlite:/var/lib/broker/tokens.sqlite`.
    /// - Throws: ``OAuthBroker/BrokerError`` (``OAuthBroker/BrokerError/Code/invalidConfiguration``) for an
    ///   unknown scheme or a missing path; the message quotes the scheme only.
    public init(_ string: String) throws {
        self.string = string
        if string == "memory:" || string == "memory" || string == "memory://" {
            kind = .memory
            path = nil
        } else if string.hasPrefix("file:") {
            kind = .file
            path = try Self.path(afterScheme: String(string.dropFirst("file:".count)), scheme: "file")
        } else if string.hasPrefix("sqlite:") {
            kind = .sqlite
            path = try Self.path(afterScheme: String(string.dropFirst("sqlite:".count)), scheme: "sqlite")
        } else if string.hasPrefix("redis://") || string.hasPrefix("rediss://") {
            kind = .redis
            path = nil
        } else if string.lowercased().hasPrefix("postgres://") || string.lowercased().hasPrefix("postgresql://") {
            kind = .postgres
            path = nil
        } else {
            let scheme = string.split(separator: ":", maxSplits: 1).first.map(String.init) ?? ""
            throw BrokerError(
                .invalidConfiguration,
                "unknown store URL scheme '\(scheme.prefix(16))' "
                    + "(use memory:, file:PATH, sqlite:PATH, redis:// or postgres://)")
        }
    }

    private static func path(afterScheme rest: String, scheme: String) throws -> String {
        var path = rest
        if path.hasPrefix("//") {
            // file:///abs/path or file://localhost/abs/path
            path.removeFirst(2)
            if path.hasPrefix("localhost/") { path.removeFirst("localhost".count) }
            guard path.hasPrefix("/") else {
                throw BrokerError(.invalidConfiguration, "a \(scheme): URL with a host must be \(scheme):///abs/path")
            }
        }
        guard !path.isEmpty else { throw BrokerError(.invalidConfiguration, "a \(scheme): URL needs a path") }
        return path
    }

    /// The URL, with the user information of a Redis URL (which may hold a password) replaced by `***`, and the
    /// password of a PostgreSQL URL replaced by `***` (the user is kept).
    public var description: String {
        guard kind == .redis || kind == .postgres, let at = string.lastIndex(of: "@"),
            let schemeEnd = string.range(of: "://")
        else { return string }
        if kind == .postgres {
            // Keep the user, mask the password (if any): whatever follows the first colon of the user information.
            guard let colon = string[schemeEnd.upperBound..<at].firstIndex(of: ":") else { return string }
            return string[..<colon] + ":***" + string[at...]
        }
        return string[..<schemeEnd.upperBound] + "***" + string[at...]
    }

    /// The kind and the ``description`` (password masked).
    public var customMirror: Mirror {
        Mirror(self, children: ["kind": kind.description, "url": description], displayStyle: .struct)
    }

    /// Opens the store the URL names.
    /// - Parameters:
    ///   - now: The wall clock for session expiry and leases; the system clock by default.
    ///   - waitCap: The longest one store call may wait for another writer's lock or a server's answer (the
    ///     SQLite busy timeout, the file lock timeout, Redis's command and pool timeouts, PostgreSQL's connect and
    ///     operation timeouts), when that is less than the
    ///     store's default; `nil` keeps the defaults. The CLI passes its `--store-write-timeout`, so a write of a
    ///     token in hand never blocks past that budget in one call.
    ///   - codec: How durable stores (file, SQLite, Redis) encode records and sessions: a
    ///     ``OAuthBroker/SealingStoreCodec`` from `--store-keys`, or the plain ``OAuthBroker/JSONStoreCodec``.
    ///     A memory store keeps values and ignores it.
    ///   - redisPassword: The Redis password when it comes from elsewhere than the URL (a file, the environment),
    ///     so it never appears in a process listing; `nil` uses the URL's, if any.
    /// - Returns: A ready store.
    /// - Throws: ``OAuthBroker/BrokerError`` from the store's initialiser (for example `storeCorrupted`);
    ///   `invalidConfiguration` when `redisPassword` is given for a store that is not Redis, or together with a
    ///   password in the URL.
    public func makeStore(
        now: @escaping @Sendable () -> Date = { Date() }, waitCap: Duration? = nil,
        codec: any StoreCodec = JSONStoreCodec(), redisPassword: Secret? = nil
    ) async throws -> any BrokerStore {
        if redisPassword != nil, kind != .redis {
            throw BrokerError(.invalidConfiguration, "a Redis password is given, but the store is \(kind):")
        }
        func capped(_ duration: Duration) -> Duration { waitCap.map { min(duration, $0) } ?? duration }
        switch kind {
        case .memory:
            return MemoryStore(now: now)
        case .file:
            var configuration = FileStore.Configuration(path: path ?? "", codec: codec)
            configuration.lockTimeout = capped(configuration.lockTimeout)
            return try FileStore(configuration: configuration, now: now)
        case .sqlite:
            var configuration = SQLiteStore.Configuration(path: path ?? "", codec: codec)
            configuration.busyTimeout = capped(configuration.busyTimeout)
            return try await SQLiteStore(configuration: configuration, now: now)
        case .postgres:
            var configuration = try PostgresStore.Configuration(url: string)
            if configuration.password == nil {
                configuration.password = PostgresPassFile.password(
                    host: configuration.host, port: configuration.port,
                    database: configuration.database ?? configuration.username, username: configuration.username)
            }
            configuration.connectTimeout = capped(configuration.connectTimeout)
            configuration.operationTimeout = capped(configuration.operationTimeout)
            let store = try await PostgresStore(configuration: configuration, codec: codec, now: now)
            Self.opened.withLock { $0.append(store) }
            return store
        default:
            var configuration = try RedisStore.Configuration(url: string)
            if let redisPassword {
                guard configuration.password == nil else {
                    throw BrokerError(
                        .invalidConfiguration, "the Redis password is given twice: in the URL and separately")
                }
                configuration.password = redisPassword
            }
            configuration.commandTimeout = capped(configuration.commandTimeout)
            configuration.poolTimeout = capped(configuration.poolTimeout)
            return try RedisStore(configuration: configuration, codec: codec, now: now)
        }
    }
}

extension StoreURL {
    /// The stores ``makeStore(now:waitCap:codec:redisPassword:)`` opened that hold a running client.
    fileprivate static let opened = Mutex<[PostgresStore]>([])

    /// Shuts down every store this process opened with ``makeStore(now:waitCap:codec:redisPassword:)`` that runs
    /// a client of its own (a `PostgresStore`: its connections end with a `Terminate` message instead of being cut
    /// when the process exits). Short-lived processes (the CLI) call it before exiting; other stores need nothing.
    public static func closeOpenedStores() async {
        let stores = opened.withLock { stores in
            defer { stores = [] }
            return stores
        }
        for store in stores { await store.shutdown() }
    }
}
