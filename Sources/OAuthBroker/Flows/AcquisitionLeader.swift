import Foundation
import Logging
import Tracing

/// What a shared acquisition must produce.
enum AcquisitionMode: Sendable {
    /// A record that is fresh (with the largest jitter, so the cache will call it fresh too).
    case ensureFresh
    /// A new token even if the stored one is fresh; a change made by another writer while waiting counts.
    case force
    /// Any unexpired token other than this rejected one.
    case replace(Secret)

    /// A fixed name for spans.
    var name: String {
        switch self {
        case .ensureFresh: "ensure_fresh"
        case .force: "force"
        case .replace: "replace"
        }
    }
}

/// The single-flight leader's work for one key: read the store; if its record will not do, take the refresh lease
/// (keeping it alive), read again, obtain a token (refresh or client credentials), store it, or adopt what another
/// writer stored. The broker façade runs this inside its single-flight, so one leader per key and process.
///
/// The rotation rules this type enforces are listed in DESIGN.md ("Rotation rules").
final class AcquisitionLeader<Transport: TokenTransport, Mapper: TransportErrorMapper>: Sendable {
    let provider: ProviderDescriptor
    let configuration: BrokerConfiguration
    let store: InstrumentedStore
    let client: TokenEndpointClient<Transport, Mapper>
    let writer: RecordWriter
    let cache: TokenCache
    let events: EventHub
    let leaseOwner: LeaseOwner
    let logger: Logger
    let metrics: BrokerMetrics
    let tracer: any Tracer

    init(
        provider: ProviderDescriptor, configuration: BrokerConfiguration, store: InstrumentedStore,
        client: TokenEndpointClient<Transport, Mapper>, cache: TokenCache, events: EventHub, leaseOwner: LeaseOwner,
        logger: Logger, metrics: BrokerMetrics, tracer: any Tracer
    ) {
        self.provider = provider
        self.configuration = configuration
        self.store = store
        self.client = client
        self.cache = cache
        self.events = events
        self.leaseOwner = leaseOwner
        self.logger = logger
        self.metrics = metrics
        self.tracer = tracer
        let policy = configuration.refreshPolicy
        let interval = configuration.revalidationInterval
        let clock = configuration.clock
        self.writer = RecordWriter(
            store: store, configuration: configuration, logger: logger, provider: provider.id,
            remember: { record, key in
                Self.remember(record, for: key, in: cache, policy: policy, revalidation: interval, now: clock.now())
            })
    }

    // MARK: - Cache

    /// Caches `record` for `key` when it is active, with a freshly drawn jitter, and returns its token.
    @discardableResult
    func remember(_ record: TokenRecord, for key: StoreKey) -> AccessToken {
        Self.remember(
            record, for: key, in: cache, policy: configuration.refreshPolicy,
            revalidation: configuration.revalidationInterval, now: configuration.clock.now())
    }

    @discardableResult
    private static func remember(
        _ record: TokenRecord, for key: StoreKey, in cache: TokenCache, policy: RefreshPolicy,
        revalidation: Duration?, now: Date
    ) -> AccessToken {
        let token = AccessToken(record: record, key: key)
        guard record.isActive else {
            cache.remove(key)
            return token
        }
        let staleAt = policy.staleInstant(of: record, jitterFraction: Double.random(in: 0..<1)) ?? .distantFuture
        return cache.store(
            record, for: key, freshUntil: revalidation.map { now.addingTimeInterval($0.timeInterval) },
            staleAt: staleAt, expiresAt: record.expiresAt ?? .distantFuture)
    }

    // MARK: - Acquisition

    /// Produces a record for `key` that satisfies `mode`, in a span, with metrics.
    func acquire(_ key: StoreKey, mode: AcquisitionMode) async throws -> TokenRecord {
        let start = MonotonicTime.now()
        return try await tracer.withSpan("oauth.acquire") { span in
            span.attributes["oauth.provider"] = provider.id.rawValue
            span.attributes["oauth.tenant"] = key.tenant.rawValue
            span.attributes["oauth.mode"] = "\(mode.name)"
            do {
                let record = try await acquireInSpan(key, mode: mode)
                metrics.refresh(outcome: "success", nanoseconds: MonotonicTime.nanoseconds(since: start))
                span.attributes["oauth.version"] = Int64(truncatingIfNeeded: record.version)
                return record
            } catch {
                let code = (error as? BrokerError)?.code.description ?? "cancelled"
                span.attributes["oauth.error"] = code
                span.setStatus(SpanStatus(code: .error))
                metrics.refresh(outcome: code, nanoseconds: MonotonicTime.nanoseconds(since: start))
                throw error
            }
        }
    }

    private func acquireInSpan(_ key: StoreKey, mode: AcquisitionMode) async throws -> TokenRecord {
        if let held = try await pendingRecord(for: key) { return held }
        let observed = try await store.record(for: key)
        if let observed, try isAcceptable(observed, mode: mode, observedVersion: nil, key: key) {
            remember(observed, for: key)
            return observed
        }
        let record: TokenRecord
        if store.providesRefreshLeases {
            record = try await withRefreshLease(for: key, observed: observed, mode: mode) { current, lease in
                try await self.obtain(key, current: current, deadline: self.deadline(), lease: lease)
            }
        } else {
            record = try await obtain(key, current: observed, deadline: deadline(), lease: nil)
        }
        remember(record, for: key)
        return record
    }

    /// The HTTP deadline of a flow that starts now.
    func deadline() -> Date {
        configuration.clock.now().addingTimeInterval(configuration.totalTimeout.timeInterval)
    }

    /// A token this process holds but could not store yet is the newest one: it is served while it will do, and
    /// the key is never refreshed from the older stored record while it is pending.
    private func pendingRecord(for key: StoreKey) async throws -> TokenRecord? {
        guard writer.pendingRecord(for: key) != nil else { return nil }
        // One attempt: the background task goes on retrying; a caller should not wait out a whole budget.
        _ = await writer.flush(key, budget: .zero)
        guard let held = writer.pendingRecord(for: key) else { return nil }
        try requireActive(held, key: key)
        if !held.isExpired(at: configuration.clock.now()) { return held }
        throw BrokerError(
            .storeUnavailable, "the key's newest token is not stored yet and has expired; the store is failing",
            provider: provider.id, key: key)
    }

    /// Checks a cached token against the store (revalidation): a record another process revoked or marked stops
    /// being served; a newer record replaces the cached one; an expired one is refreshed.
    func revalidate(_ key: StoreKey) async throws -> TokenRecord {
        if let held = writer.pendingRecord(for: key) { return held }
        let record: TokenRecord?
        do {
            record = try await store.record(for: key)
        } catch {
            // Keep serving the cached token; check again after another interval.
            if let interval = configuration.revalidationInterval {
                cache.postpone(key, until: configuration.clock.now().addingTimeInterval(interval.timeInterval))
            }
            throw error
        }
        guard let record else {
            cache.remove(key)
            throw BrokerError(
                .reauthorizationRequired, "the record was deleted from the store", provider: provider.id, key: key)
        }
        do {
            try requireActive(record, key: key)
        } catch {
            cache.remove(key)
            logger.debug(
                "cached token dropped: the stored record is no longer active",
                metadata: ["oauth.key": "\(key)", "oauth.status": "\(record.status)"])
            throw error
        }
        if record.isExpired(at: configuration.clock.now()) || !record.isSafeInHeader {
            return try await acquireInSpan(key, mode: .ensureFresh)
        }
        remember(record, for: key)
        return record
    }

    /// Whether `record` satisfies `mode`. Throws when the record's status forbids using it at all.
    ///
    /// - Parameter observedVersion: The version seen before waiting; for ``AcquisitionMode/force`` any other version
    ///   is acceptable (another writer refreshed).
    func isAcceptable(_ record: TokenRecord, mode: AcquisitionMode, observedVersion: UInt64?, key: StoreKey) throws
        -> Bool
    {
        try requireActive(record, key: key)
        // A stored token that could break the Authorization header is never served: replace it.
        guard record.isSafeInHeader else { return false }
        let now = configuration.clock.now()
        switch mode {
        case .ensureFresh:
            let staleAt = configuration.refreshPolicy.staleInstant(of: record, jitterFraction: 1) ?? .distantFuture
            return now < staleAt
        case .force:
            guard let observedVersion else { return false }
            return record.version != observedVersion && !record.isExpired(at: now)
        case .replace(let rejected):
            return record.accessToken != rejected && !record.isExpired(at: now)
        }
    }

    /// Throws the error that matches an unusable status.
    func requireActive(_ record: TokenRecord, key: StoreKey) throws {
        try TokenRecord.requireActive(record, provider: provider.id, key: key)
    }

    // MARK: - Leases

    /// How long a waiter waits for another holder's lease: at least twice its time-to-live, so a crashed holder's
    /// lease always runs out while someone is still waiting to take over.
    var leaseWaitBudget: Duration { max(configuration.totalTimeout, configuration.leaseTimeToLive * 2) }

    /// Takes the key's refresh lease (waiting for another holder), keeps it alive while `body` runs, and releases
    /// it; adopts the record another process stores meanwhile instead of running `body`.
    ///
    /// Waits with exponential backoff (20 ms doubling to 500 ms, with jitter) until the lease is free, a usable
    /// record appears, or ``leaseWaitBudget`` passes (``BrokerError/Code/leaseUnavailable``). Under the lease the
    /// record is read again before `body` runs, so a refresh finished by another process is adopted, not repeated.
    func withRefreshLease(
        for key: StoreKey, observed: TokenRecord?, mode: AcquisitionMode,
        _ body: (TokenRecord?, HeldLease) async throws -> TokenRecord
    ) async throws -> TokenRecord {
        let lease = try await takeLease(for: key, budget: leaseWaitBudget) {
            guard let current = try await self.store.record(for: key), current.version != observed?.version,
                try self.isAcceptable(current, mode: mode, observedVersion: observed?.version, key: key)
            else { return nil }
            return current
        }
        guard case .held(let lease) = lease else {
            guard case .adopted(let current) = lease else { preconditionFailure("takeLease returns held or adopted") }
            events.emit(.adopted, key: key, grant: nil, record: current)
            return current
        }
        do {
            let current = try await store.record(for: key)
            let result: TokenRecord
            if let current, current.version != observed?.version,
                try isAcceptable(current, mode: mode, observedVersion: observed?.version, key: key)
            {
                events.emit(.adopted, key: key, grant: nil, record: current)
                result = current
            } else {
                result = try await body(current, lease)
            }
            await lease.end()
            return result
        } catch {
            await lease.end()
            throw error
        }
    }

    /// What ``takeLease(for:budget:adopt:)`` got.
    enum LeaseOutcome {
        case held(HeldLease)
        case adopted(TokenRecord)
    }

    /// Waits for the key's lease; between tries, `adopt` may return a record that makes the lease unnecessary.
    func takeLease(
        for key: StoreKey, budget: Duration, adopt: () async throws -> TokenRecord?
    ) async throws -> LeaseOutcome {
        let clock = configuration.clock
        let giveUp = clock.now().addingTimeInterval(budget.timeInterval)
        var delay = Duration.milliseconds(20)
        var waitStart: ContinuousClock.Instant?
        defer {
            if let waitStart {
                metrics.leaseWaitDuration.recordNanoseconds(MonotonicTime.nanoseconds(since: waitStart))
            }
        }
        while true {
            let attempted = ContinuousClock.now
            if try await store.acquireLease(for: key, owner: leaseOwner, ttl: configuration.leaseTimeToLive) {
                return .held(
                    HeldLease(
                        key: key, store: store, owner: leaseOwner, ttl: configuration.leaseTimeToLive,
                        acquiredAt: attempted))
            }
            if waitStart == nil {
                waitStart = MonotonicTime.now()
                metrics.leaseWaits.increment()
                logger.debug("waiting for another holder's refresh lease", metadata: ["oauth.key": "\(key)"])
            }
            if clock.now().addingTimeInterval(delay.timeInterval) > giveUp {
                throw BrokerError(
                    .leaseUnavailable, "another process held the refresh lease past the deadline",
                    provider: provider.id, key: key)
            }
            try await clock.sleep(delay + delay * Double.random(in: 0..<0.5))
            delay = min(delay * 2, .milliseconds(500))
            if let adopted = try await adopt() { return .adopted(adopted) }
        }
    }
}
