public import Foundation
public import OAuthBroker

/// A ``OAuthBroker/BrokerStore`` in Redis: the shared store for a fleet of broker processes on many hosts.
///
/// Every operation that must be atomic runs as one server-side Lua script (insert-if-absent, compare-and-swap,
/// status update, lease take/renew/release) or one atomic command (`GETDEL` for single-use sessions, `SET … PX`
/// for session expiry), so processes on different hosts never interleave inside an operation. Refresh leases are
/// `SET NX PX` keys with owner-checked release, so ``providesRefreshLeases`` is `true`: one process in the fleet
/// refreshes a given token at a time.
///
/// ```swift
/// let store = try RedisStore(configuration: .init(url: "redis://:s3cret@10.0.0.5:6379/2?prefix=billing:"))
/// let broker = try Broker(provider: provider, store: store)
/// ```
///
/// ## Key layout
/// All keys start with ``Configuration/keyPrefix`` (`P`):
/// - `P` `record:{` *storageID* `}`: a hash with fields `key` (the ``OAuthBroker/StoreKey`` as JSON, so
///   ``keys(tenant:)`` can rebuild keys), `record` (the codec's blob), `version` (decimal) and `status`. The
///   `version` and `status` fields are authoritative: the status script updates them without re-encoding the blob.
/// - `P` `lease:{` *storageID* `}`: the lease owner, expiring with `PX`.
/// - `P` `session:` *id*: a session blob, expiring with `PX` at the session's expiry.
/// - `P` `sessions`: a sorted set of session ids scored by expiry, for ``purgeExpiredSessions(before:)``.
///
/// The braces are Redis Cluster hash tags, so a record and its lease live in one slot, and every script touches a
/// single key. (The store itself talks to one server; it does not follow cluster redirections.)
///
/// ## Connections and failures
/// A bounded pool of ``Configuration/poolSize`` connections, each confined to an actor on its own Dispatch queue,
/// so blocking hiredis calls never occupy Swift's cooperative threads. Connections open lazily; one that breaks
/// (I/O error, timeout, closed by the server) is dropped and replaced on next use. While Redis is down, operations
/// throw ``OAuthBroker/BrokerError/Code/storeUnavailable`` (transient) within ``Configuration/connectTimeout`` or
/// ``Configuration/commandTimeout``; the store recovers by itself when Redis is back. Wrong credentials throw
/// ``OAuthBroker/BrokerError/Code/invalidConfiguration``, which is not transient.
///
/// - Important: A write that times out may still have been applied by the server. The version check makes that
///   safe for compare-and-swap: the caller re-reads and sees its own write as the current record.
/// - Important: Tokens are stored as the codec encodes them (``OAuthBroker/JSONStoreCodec``: in the clear).
///   Protect Redis with ACLs and network isolation, or pass a sealing codec.
///
/// Requires Redis 6.2 or later (`GETDEL`; ACL users need 6.0).
public final class RedisStore: ResealableStore {
    /// The validated configuration.
    public let configuration: Configuration
    let codec: any StoreCodec
    let layout: RedisKeyLayout
    let pool: RedisConnectionPool
    let now: @Sendable () -> Date

    /// Creates a store. Connections open lazily, on first use: use ``ping()`` to check the server at startup.
    /// - Parameters:
    ///   - configuration: Where and how to connect.
    ///   - codec: How records and sessions become bytes; ``OAuthBroker/JSONStoreCodec`` by default.
    ///   - now: The wall clock for session expiry (the time-to-live a session gets, and the check when it is
    ///     taken); the system clock by default. Lease time-to-live is measured by the Redis server.
    /// - Throws: ``OAuthBroker/BrokerError`` (``OAuthBroker/BrokerError/Code/invalidConfiguration``) for an
    ///   invalid configuration.
    public init(
        configuration: Configuration, codec: any StoreCodec = JSONStoreCodec(),
        now: @escaping @Sendable () -> Date = { Date() }
    ) throws {
        try configuration.validate()
        self.configuration = configuration
        self.codec = codec
        self.now = now
        self.layout = RedisKeyLayout(prefix: configuration.keyPrefix)
        self.pool = RedisConnectionPool(configuration: configuration)
    }

    /// Creates a store from a `redis://` URL (see ``Configuration/init(url:)``).
    /// - Parameters:
    ///   - url: `redis://[[user]:password@]host[:port][/database][?option=value&…]`.
    ///   - codec: How records and sessions become bytes; ``OAuthBroker/JSONStoreCodec`` by default.
    ///   - now: The wall clock for session expiry; the system clock by default.
    /// - Throws: ``OAuthBroker/BrokerError`` (``OAuthBroker/BrokerError/Code/invalidConfiguration``) for a bad URL.
    public convenience init(
        url: String, codec: any StoreCodec = JSONStoreCodec(), now: @escaping @Sendable () -> Date = { Date() }
    ) throws {
        try self.init(configuration: Configuration(url: url), codec: codec, now: now)
    }

    /// `redis`.
    public var kind: String { "redis" }

    /// `true`: leases are Redis keys every process shares.
    public var providesRefreshLeases: Bool { true }

    /// Sends `PING`: checks the server is reachable and accepts the credentials.
    /// - Throws: ``OAuthBroker/BrokerError``: ``OAuthBroker/BrokerError/Code/storeUnavailable`` when the server
    ///   cannot be reached, ``OAuthBroker/BrokerError/Code/invalidConfiguration`` when it rejects the credentials
    ///   or database.
    public func ping() async throws {
        let reply = try await pool.run { try $0.command([Array("PING".utf8)]) }
        guard reply.string == "PONG" else { throw unexpected(reply, during: "PING") }
    }

    /// Closes every connection. Operations started afterwards throw ``OAuthBroker/BrokerError``
    /// (``OAuthBroker/BrokerError/Code/storeFailed``). Optional: connections also close when the store is released.
    public func shutdown() async {
        await pool.shutdown()
    }

    // MARK: - Helpers shared by the extensions

    /// An error for a reply that does not have the expected shape.
    func unexpected(_ reply: RedisReply, during operation: String, key: StoreKey? = nil) -> BrokerError {
        if case .error(let message) = reply { return RedisErrorMapping.error(message, during: operation, key: key) }
        return BrokerError(.storeFailed, "Redis answered \(operation) with an unexpected reply", key: key)
    }

    /// Throws the mapped error if `reply` is a Redis error reply.
    func check(_ reply: RedisReply, during operation: String, key: StoreKey? = nil) throws {
        if case .error(let message) = reply { throw RedisErrorMapping.error(message, during: operation, key: key) }
    }
}

// MARK: - Test hooks (package access: the test target may use them, applications cannot)

extension RedisStore {
    /// Sends one raw command on a pooled connection (tests: `SCRIPT FLUSH`, `CLIENT KILL`, binary values).
    package func command(_ arguments: [[UInt8]]) async throws -> RedisReply {
        try await pool.run { try $0.command(arguments) }
    }

    /// Sends one raw command given as strings.
    package func command(_ arguments: String...) async throws -> RedisReply {
        try await command(arguments.map { Array($0.utf8) })
    }

    /// How many connections the pool has opened in total (a replaced connection counts again).
    package var connectionsOpened: Int {
        get async {
            var total = 0
            for slot in pool.slots { total += await slot.connectionsOpened }
            return total
        }
    }

    /// The SHA-1 of every Lua script this process has loaded so far, by script name.
    package static var loadedScripts: [String: String] {
        var result: [String: String] = [:]
        for script in RedisScripts.all { result[script.name] = script.loadedSHA }
        return result
    }

    /// The Redis key name of `key`'s record hash.
    package func recordKeyName(_ key: StoreKey) -> String { String(decoding: layout.record(key), as: UTF8.self) }

    /// The Redis key name of `key`'s refresh lease.
    package func leaseKeyName(_ key: StoreKey) -> String { String(decoding: layout.lease(key), as: UTF8.self) }

    /// The Redis key name of a session.
    package func sessionKeyName(_ id: String) -> String { String(decoding: layout.session(id), as: UTF8.self) }

    /// The Redis key name of the session index.
    package var sessionIndexKeyName: String { String(decoding: layout.sessionIndex, as: UTF8.self) }
}
