import CoreMetrics
import Foundation
public import Logging
import Synchronization
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
    let tracer: any Tracer
    let cache: TokenCache
    let flights: SingleFlight<StoreKey, TokenRecord>
    private let subscribers = Mutex<(next: Int, continuations: [Int: AsyncStream<BrokerEvent>.Continuation])>(
        (0, [:]))

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
        self.leaseOwner = LeaseOwner.random()
        self.cache = TokenCache(clock: configuration.clock)
        self.logger = logger ?? Logger(label: "oauth-broker", factory: { _ in SwiftLogNoOpLogHandler() })
        let metrics = BrokerMetrics(
            factory: configuration.metricsFactory ?? MetricsSystem.factory, provider: provider.id.rawValue,
            store: store.kind)
        self.metrics = metrics
        self.tracer = configuration.tracer ?? InstrumentationSystem.tracer
        self.flights = SingleFlight(onJoin: { metrics.singleFlightJoins.increment() })
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
        /// - A fresh cached token is returned at once (no store access, no suspension beyond the call).
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

    /// The cached token for `key` if it is fresh, without ever suspending or touching the store or the network.
    ///
    /// - Parameter key: The key.
    /// - Returns: The token, or `nil` when nothing fresh is cached (call ``accessToken(for:)`` then).
    public func cachedAccessToken(for key: StoreKey) -> AccessToken? {
        guard let token = cache.freshToken(for: key) else { return nil }
        metrics.recordCacheHit()
        return token
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
        try await loadRecord(key)
    }

    /// Drops `key` from the in-process cache so the next call reads the store.
    public func evictCachedToken(for key: StoreKey) { cache.remove(key) }

    /// The number of keys with a token request in flight in this broker (waiters share each one).
    public var inFlightCount: Int { flights.inFlightCount }

    // MARK: - Events

    /// A stream of every ``BrokerEvent`` from now on. Each call makes an independent subscription, ended when the
    /// stream is dropped; slow consumers keep the newest 1,024 events.
    public func events() -> AsyncStream<BrokerEvent> {
        let (stream, continuation) = AsyncStream.makeStream(
            of: BrokerEvent.self, bufferingPolicy: .bufferingNewest(1024))
        let id = subscribers.withLock { state -> Int in
            state.next += 1
            state.continuations[state.next] = continuation
            return state.next
        }
        continuation.onTermination = { [weak self] _ in
            _ = self?.subscribers.withLock { $0.continuations.removeValue(forKey: id) }
        }
        return stream
    }

    func emit(
        _ kind: BrokerEvent.Kind, key: StoreKey, grant: ProviderDescriptor.Grant?, record: TokenRecord?,
        rotated: Bool = false
    ) {
        let event = BrokerEvent(
            kind: kind, key: key, grant: grant, version: record?.version, rotated: rotated,
            date: configuration.clock.now())
        logger.debug(
            "oauth event",
            metadata: ["oauth.event": "\(kind)", "oauth.key": "\(key)", "oauth.provider": "\(provider.id)"])
        metrics.event(kind.description)
        configuration.onEvent?(event)
        let continuations = subscribers.withLock { Array($0.continuations.values) }
        for continuation in continuations { continuation.yield(event) }
    }

    // MARK: - Internals shared by the flows

    func checkProvider(of key: StoreKey) throws {
        guard key.provider == provider.id else {
            throw BrokerError(
                .invalidInput, "the key names provider \(key.provider), but this broker serves \(provider.id)",
                key: key)
        }
    }

    /// Caches `record` for `key` when it is active, with a freshly drawn jitter, and returns its token.
    @discardableResult
    func remember(_ record: TokenRecord, for key: StoreKey) -> AccessToken {
        let token = AccessToken(record: record, key: key)
        guard record.isActive else {
            cache.remove(key)
            return token
        }
        let jitter = Double.random(in: 0..<1)
        let staleAt = configuration.refreshPolicy.staleInstant(of: record, jitterFraction: jitter) ?? .distantFuture
        cache.store(record, for: key, staleAt: staleAt, expiresAt: record.expiresAt ?? .distantFuture)
        return token
    }

    /// Runs a store call, timing it and counting failures; any non-``BrokerError`` failure becomes
    /// ``BrokerError/Code/storeFailed``.
    func storeCall<T>(_ operation: String, _ key: StoreKey?, _ body: () async throws -> T) async throws -> T {
        let start = MonotonicTime.now()
        do {
            let result = try await body()
            metrics.storeOperation(operation, nanoseconds: MonotonicTime.nanoseconds(since: start), errorCode: nil)
            return result
        } catch let error as BrokerError {
            metrics.storeOperation(
                operation, nanoseconds: MonotonicTime.nanoseconds(since: start), errorCode: error.code.description)
            throw error.adding(provider: provider.id, key: key)
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            metrics.storeOperation(
                operation, nanoseconds: MonotonicTime.nanoseconds(since: start), errorCode: "store_failed")
            throw BrokerError(
                .storeFailed, "the \(store.kind) store failed: \(type(of: error))", provider: provider.id, key: key,
                underlying: error)
        }
    }

    /// Reads the record for `key` from the store.
    func loadRecord(_ key: StoreKey) async throws -> TokenRecord? {
        try await storeCall("record", key) { try await self.store.record(for: key) }
    }

    /// Compare-and-swap through the store.
    func swapRecord(_ key: StoreKey, expecting expected: UInt64, with new: TokenRecord) async throws -> SwapOutcome {
        try await storeCall("compare_and_swap", key) {
            try await self.store.compareAndSwap(key, expecting: expected, with: new)
        }
    }
}
