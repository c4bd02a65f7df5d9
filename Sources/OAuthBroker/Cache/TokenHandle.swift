/// A long-lived handle on one key's access token: the fastest way to ask a broker for the same key many times.
///
/// ```swift
/// let github = try broker.handle(for: key)      // once, e.g. when a client is built
/// let token = try await github.accessToken()    // per request
/// ```
///
/// A hit reads the broker's per-CPU copy of the key's cached entry directly (no dictionary lookup, no hashing,
/// no allocation, no shared memory write); anything else (no token cached, stale, expired) runs
/// ``Broker/accessToken(for:)``. A handle never holds a token of its own: refreshes, invalidations, revocations
/// and ``Broker/evictCachedToken(for:)`` reach every handle of the key at once, because they all read the broker's
/// cache. Copies share the same state; a handle keeps its broker alive.
public struct TokenHandle: Sendable {
    @usableFromInline let core: Core

    @usableFromInline final class Core: Sendable {
        let cell: TokenCache.Cell
        let cache: TokenCache
        let metrics: BrokerMetrics
        let source: any TokenSource

        init(cell: TokenCache.Cell, cache: TokenCache, metrics: BrokerMetrics, source: any TokenSource) {
            self.cell = cell
            self.cache = cache
            self.metrics = metrics
            self.source = source
        }
    }

    init(cell: TokenCache.Cell, cache: TokenCache, metrics: BrokerMetrics, source: any TokenSource) {
        core = Core(cell: cell, cache: cache, metrics: metrics, source: source)
    }

    /// The key this handle serves.
    public var key: StoreKey { core.cell.key }

    #if compiler(>=6.2)
        /// Returns a usable access token for the handle's key, exactly as ``Broker/accessToken(for:)`` would.
        ///
        /// Inlinable and `nonisolated(nonsending)` (it runs on the caller's executor), so a hit costs the caller
        /// one synchronous call (``cachedAccessToken()``): no async frame and no executor hop.
        ///
        /// - Returns: The token.
        /// - Throws: ``BrokerError`` as ``Broker/accessToken(for:)`` does.
        @inlinable
        nonisolated(nonsending) public func accessToken() async throws -> AccessToken {
            if let token = cachedAccessToken() { return token }
            return try await accessTokenAfterMiss()
        }
    #else
        /// Returns a usable access token for the handle's key, exactly as ``Broker/accessToken(for:)`` would.
        ///
        /// Inlinable, so a hit costs the caller one synchronous call (``cachedAccessToken()``) and no async frame.
        ///
        /// - Returns: The token.
        /// - Throws: ``BrokerError`` as ``Broker/accessToken(for:)`` does.
        @inlinable
        public func accessToken() async throws -> AccessToken {
            if let token = cachedAccessToken() { return token }
            return try await accessTokenAfterMiss()
        }
    #endif

    /// The cached token if it is fresh, without ever suspending or touching the store or the network.
    ///
    /// - Returns: The token, or `nil` when nothing fresh is cached (call ``accessToken()`` then).
    public func cachedAccessToken() -> AccessToken? {
        let core = self.core
        guard let token = core.cache.freshToken(in: core.cell) else {
            return core.source.tokenDueForCheck(core.cell.key)
        }
        core.metrics.recordCacheHit()
        return token
    }

    /// The broker's full path (stale, miss, refresh).
    @usableFromInline
    func accessTokenAfterMiss() async throws -> AccessToken {
        try await core.source.accessToken(for: core.cell.key)
    }
}

/// What a ``TokenHandle`` falls back to on a miss.
protocol TokenSource: Sendable {
    func accessToken(for key: StoreKey) async throws -> AccessToken
    /// A fresh token whose check against the store is due, served while the check runs.
    func tokenDueForCheck(_ key: StoreKey) -> AccessToken?
}

extension Broker: TokenSource {
    /// Returns a handle on `key`'s access token; see ``TokenHandle``.
    ///
    /// Make one per key and keep it: making a handle takes a lock and may allocate; using it does neither.
    ///
    /// - Parameter key: A key of this broker's provider.
    /// - Returns: The handle.
    /// - Throws: ``BrokerError`` (``BrokerError/Code/invalidInput``) when `key` names another provider.
    public func handle(for key: StoreKey) throws -> TokenHandle {
        try checkProvider(of: key)
        return TokenHandle(cell: cache.cell(for: key), cache: cache, metrics: metrics, source: self)
    }
}
