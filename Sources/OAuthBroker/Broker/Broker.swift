import CoreMetrics
import Foundation
public import Logging
import Tracing

/// Brokers OAuth 2.0 tokens for one provider registration, for any number of tenants and principals.
///
/// `Broker` is generic over its ``TokenTransport`` and ``TransportErrorMapper`` (fixed at construction, on the hot
/// path) and holds its ``BrokerStore`` as an existential (picked by configuration at run time).
///
/// ```swift
/// let broker = try Broker(provider: provider, store: MemoryStore(), transport: transport,
///                         errorMapper: PassthroughErrorMapper())
/// let token = try await broker.accessToken(for: key)
/// request.setValue(token.authorizationHeaderValue(), forHTTPHeaderField: "Authorization")
/// ```
///
/// - Important: Concurrency contract. Every method is safe to call from any number of tasks. For one key, at most
///   one token request is in flight in this process (single-flight), and, when the store
///   ``BrokerStore/providesRefreshLeases``, in every process sharing the store. A refresh runs to completion even
///   if the caller that started it is cancelled, so a rotated refresh token is never lost.
public final class Broker<Transport: TokenTransport, Mapper: TransportErrorMapper>: Sendable {
    /// The provider registration this broker serves.
    public let provider: ProviderDescriptor
    /// The store holding records, sessions and leases.
    public let store: any BrokerStore
    /// The transport that carries token requests.
    public let transport: Transport
    /// The mapper that types transport failures.
    public let errorMapper: Mapper
    /// The configuration.
    public let configuration: BrokerConfiguration
    /// The owner identity this broker uses for refresh leases.
    public let leaseOwner: LeaseOwner

    let logger: Logger
    let metrics: BrokerMetrics
    let cache: TokenCache
    let flights: SingleFlight<StoreKey, TokenRecord>
    let eventHub: EventHub
    let leader: AcquisitionLeader<Transport, Mapper>

    /// Creates a broker.
    ///
    /// - Parameters:
    ///   - provider: The provider registration.
    ///   - store: Where tokens live.
    ///   - transport: How token requests travel.
    ///   - errorMapper: How the transport's failures become ``BrokerError``s.
    ///   - configuration: Behaviour; validated here.
    ///   - logger: Where the broker logs routine steps (`.debug`/`.trace`) and failures; never tokens. By default
    ///     nothing is logged.
    /// - Throws: ``BrokerError`` (``BrokerError/Code/invalidConfiguration``) for an invalid configuration.
    public init(
        provider: ProviderDescriptor,
        store: some BrokerStore,
        transport: Transport,
        errorMapper: Mapper,
        configuration: BrokerConfiguration = BrokerConfiguration(),
        logger: Logger? = nil
    ) throws {
        try configuration.validate()
        self.provider = provider
        self.store = store
        self.transport = transport
        self.errorMapper = errorMapper
        self.configuration = configuration
        let leaseOwner = LeaseOwner.random()
        self.leaseOwner = leaseOwner
        let cache = TokenCache(clock: configuration.clock)
        self.cache = cache
        let logger = logger ?? Logger(label: "oauth-broker", factory: { _ in SwiftLogNoOpLogHandler() })
        self.logger = logger
        let metrics = BrokerMetrics(
            factory: configuration.metricsFactory ?? MetricsSystem.factory, provider: provider.id.rawValue,
            store: store.kind)
        self.metrics = metrics
        let tracer = configuration.tracer ?? InstrumentationSystem.tracer
        self.flights = SingleFlight(onJoin: { metrics.singleFlightJoins.increment() })
        let events = EventHub(configuration: configuration, metrics: metrics, logger: logger, provider: provider.id)
        self.eventHub = events
        let instrumented = InstrumentedStore(base: store, metrics: metrics, provider: provider.id, logger: logger)
        let client = TokenEndpointClient(
            provider: provider, transport: transport, errorMapper: errorMapper, configuration: configuration,
            metrics: metrics, tracer: tracer, logger: logger)
        self.leader = AcquisitionLeader(
            provider: provider, configuration: configuration, store: instrumented, client: client, cache: cache,
            events: events, leaseOwner: leaseOwner, logger: logger, metrics: metrics, tracer: tracer)
    }

    /// Makes a key for this broker's provider.
    /// - Throws: ``BrokerError`` (``BrokerError/Code/invalidInput``) for an invalid component.
    public func key(tenant: String, principal: String, scopes: [String] = []) throws -> StoreKey {
        StoreKey(
            provider: provider.id, tenant: try TenantID(tenant), principal: try PrincipalID(principal),
            scopes: try ScopeSet(scopes))
    }

    // MARK: - Tokens

    #if compiler(>=6.2)
        /// Returns a usable access token for `key`.
        ///
        /// - A fresh cached token is returned at once (no store access, no suspension beyond the call). Once every
        ///   ``BrokerConfiguration/revalidationInterval`` it is also checked against the store in the background, so
        ///   a revocation by another process stops it being served.
        /// - A stale but unexpired token is returned at once while one background refresh runs, unless
        ///   ``BrokerConfiguration/staleTokenBehavior`` is ``BrokerConfiguration/StaleTokenBehavior/waitForRefresh``.
        /// - Otherwise the caller joins the key's single-flight: the store is read, and if its record is not fresh
        ///   the token is refreshed (or, with no refresh token, fetched by client credentials when the provider
        ///   allows it).
        ///
        /// - Throws: ``BrokerError``: ``BrokerError/Code/reauthorizationRequired`` when nothing usable is stored and no
        ///   grant can make one, ``BrokerError/Code/invalidGrant`` when the provider killed the grant,
        ///   ``BrokerError/Code/tokenRevoked``, transient codes after retries, ``BrokerError/Code/deadlineExceeded``.
        ///
        /// Inlinable and `nonisolated(nonsending)` (it runs on the caller's executor), so a hit costs the caller
        /// one synchronous call (``cachedAccessToken(for:)``): no async frame and no executor hop.
        @inlinable
        nonisolated(nonsending) public func accessToken(for key: StoreKey) async throws -> AccessToken {
            if let token = cachedAccessToken(for: key) { return token }
            return try await accessTokenAfterMiss(for: key)
        }
    #else
        /// Returns a usable access token for `key` (compilers before Swift 6.2, which lack
        /// `nonisolated(nonsending)`); the behaviour is the same as in the Swift 6.2+ declaration.
        @inlinable
        public func accessToken(for key: StoreKey) async throws -> AccessToken {
            if let token = cachedAccessToken(for: key) { return token }
            return try await accessTokenAfterMiss(for: key)
        }
    #endif

    /// The cached token for `key` if it is fresh, without ever suspending or waiting for the store or the network.
    ///
    /// When the token's check against the store is due (``BrokerConfiguration/revalidationInterval``), the check
    /// starts in the background and the token is returned meanwhile.
    ///
    /// - Parameter key: The key.
    /// - Returns: The token, or `nil` when nothing fresh is cached (call ``accessToken(for:)`` then).
    public func cachedAccessToken(for key: StoreKey) -> AccessToken? {
        if let token = cache.freshToken(for: key) {
            metrics.recordCacheHit()
            return token
        }
        return tokenDueForCheck(key)
    }

    /// A fresh cached token whose check against the store is due (``BrokerConfiguration/revalidationInterval``):
    /// returned at once while the check runs in the background; `nil` when nothing fresh is cached.
    func tokenDueForCheck(_ key: StoreKey) -> AccessToken? {
        guard configuration.revalidationInterval != nil, let entry = cache.entry(for: key) else { return nil }
        let now = configuration.clock.now()
        guard now < entry.staleAt else { return nil }
        metrics.recordCacheHit()
        if now >= entry.freshUntil { revalidateInBackground(key) }
        return entry.token
    }

    /// The part of ``accessToken(for:)`` after the hit path found no fresh token.
    @usableFromInline
    func accessTokenAfterMiss(for key: StoreKey) async throws -> AccessToken {
        if let entry = cache.entry(for: key) {
            let now = configuration.clock.now()
            if now < entry.staleAt {
                metrics.cacheHits.increment()
                return entry.token
            }
            if now < entry.expiresAt, configuration.staleTokenBehavior == .serveWhileRefreshing {
                metrics.staleServed.increment()
                refreshInBackground(key)
                return entry.token
            }
        }
        metrics.cacheMisses.increment()
        try checkProvider(of: key)
        return try await sharedAcquisition(for: key, mode: .ensureFresh)
    }

    /// Returns a fresh token for `key`, refreshing now if the cached one is stale; with `force`, refreshes even a
    /// fresh one (another process's refresh made while this one waited for the lease counts).
    public func refresh(_ key: StoreKey, force: Bool = false) async throws -> AccessToken {
        try checkProvider(of: key)
        if !force, let entry = cache.entry(for: key), configuration.clock.now() < entry.staleAt {
            return entry.token
        }
        return try await sharedAcquisition(for: key, mode: force ? .force : .ensureFresh)
    }

    /// Replaces a token a resource server rejected (HTTP 401).
    ///
    /// If the current token is already a different one, it is returned without a token request. Concurrent
    /// invalidations of the same stale token collapse into one refresh.
    ///
    /// - Parameters:
    ///   - staleAccessToken: The token that was rejected.
    ///   - key: Its key.
    public func invalidate(_ staleAccessToken: Secret, for key: StoreKey) async throws -> AccessToken {
        try checkProvider(of: key)
        if let entry = cache.entry(for: key), entry.token.value != staleAccessToken,
            configuration.clock.now() < entry.expiresAt
        {
            return entry.token
        }
        for _ in 0..<2 {
            let token = try await sharedAcquisition(for: key, mode: .replace(staleAccessToken))
            if token.value != staleAccessToken { return token }
        }
        throw BrokerError(.providerRejected, "the provider keeps returning the rejected access token", key: key)
    }

    /// The stored record for `key`, read from the store (for tooling; tokens stay wrapped in ``Secret``).
    public func record(for key: StoreKey) async throws -> TokenRecord? {
        try await leader.store.record(for: key)
    }

    /// Drops `key` from the in-process cache so the next call reads the store.
    public func evictCachedToken(for key: StoreKey) { cache.remove(key) }

    /// The number of keys with a token request in flight in this broker (waiters share each one).
    public var inFlightCount: Int { flights.inFlightCount }

    /// The number of keys whose newest token this broker holds in memory only, because the store failed while
    /// it was being written (see ``BrokerConfiguration/storeWriteTimeout``). The broker keeps writing them in the
    /// background; a non-zero value for long means the store is down.
    public var unsavedTokenCount: Int { leader.writer.pendingCount }

    // MARK: - Events

    /// A stream of every ``BrokerEvent`` from now on. Each call makes an independent subscription, ended when the
    /// stream is dropped; slow consumers keep the newest 1,024 events.
    public func events() -> AsyncStream<BrokerEvent> { eventHub.subscribe() }

    // MARK: - Internals shared by the flows

    func checkProvider(of key: StoreKey) throws {
        guard key.provider == provider.id else {
            throw BrokerError(
                .invalidInput, "the key names provider \(key.provider), but this broker serves \(provider.id)",
                key: key)
        }
    }

    /// Joins or leads the key's single-flight and returns the resulting token.
    func sharedAcquisition(for key: StoreKey, mode: AcquisitionMode) async throws -> AccessToken {
        let record = try await flights.run(key, timeout: configuration.totalTimeout) {
            try await self.leader.acquire(key, mode: mode)
        }
        return AccessToken(record: record, key: key)
    }

    /// Starts a background refresh for a stale key unless one is running.
    func refreshInBackground(_ key: StoreKey) {
        flights.launchIfIdle(key) {
            do {
                return try await self.leader.acquire(key, mode: .ensureFresh)
            } catch {
                self.logger.warning(
                    "background refresh failed",
                    metadata: [
                        "oauth.key": "\(key)", "oauth.provider": "\(self.provider.id)",
                        "error": "\((error as? BrokerError)?.code.description ?? "other")",
                    ])
                throw error
            }
        }
    }

    /// Starts a background check of a cached token against the store unless an operation is running for the key.
    func revalidateInBackground(_ key: StoreKey) {
        flights.launchIfIdle(key) { try await self.leader.revalidate(key) }
    }
}
