import Foundation
import Tracing

/// What a shared acquisition must produce.
enum AcquisitionMode: Sendable {
    /// A fixed name for spans.
    var name: String {
        switch self {
        case .ensureFresh: "ensure_fresh"
        case .force: "force"
        case .replace: "replace"
        }
    }

    /// A record that is fresh (with the largest jitter, so the cache will call it fresh too).
    case ensureFresh
    /// A new token even if the stored one is fresh; a change made by another writer while waiting counts.
    case force
    /// Any unexpired token other than this rejected one.
    case replace(Secret)
}

extension Broker {
    /// Joins or leads the key's single-flight and returns the resulting token.
    func sharedAcquisition(for key: StoreKey, mode: AcquisitionMode) async throws -> AccessToken {
        let record = try await flights.run(key, timeout: configuration.totalTimeout) {
            try await self.acquire(key, mode: mode)
        }
        return AccessToken(record: record, key: key)
    }

    /// Starts a background refresh for a stale key unless one is running.
    func refreshInBackground(_ key: StoreKey) {
        flights.launchIfIdle(key) {
            do {
                return try await self.acquire(key, mode: .ensureFresh)
            } catch {
                self.logger.warning(
                    "background refresh failed",
                    metadata: ["oauth.key": "\(key)", "oauth.provider": "\(self.provider.id)", "error": "\(error)"])
                throw error
            }
        }
    }

    /// The leader's work: read the store; if its record will not do, take the lease (when the store has leases),
    /// re-read, and only then ask the provider.
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
        let deadline = configuration.clock.now().addingTimeInterval(configuration.totalTimeout.timeInterval)
        let observed = try await loadRecord(key)
        if let observed, try isAcceptable(observed, mode: mode, observedVersion: nil, key: key) {
            remember(observed, for: key)
            return observed
        }
        let record: TokenRecord
        if store.providesRefreshLeases {
            record = try await withRefreshLease(for: key, observed: observed, mode: mode, deadline: deadline) {
                current in try await self.obtain(key, current: current, deadline: deadline)
            }
        } else {
            record = try await obtain(key, current: observed, deadline: deadline)
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
        switch record.status {
        case .active: return
        case .revoked: throw BrokerError(.tokenRevoked, "the stored grant was revoked", provider: provider.id, key: key)
        default:
            throw BrokerError(
                .reauthorizationRequired, "the stored grant needs re-authorization (status \(record.status))",
                provider: provider.id, key: key)
        }
    }

    /// Holds the store's refresh lease around `body`, or adopts the record another process stores meanwhile.
    ///
    /// Waits with exponential backoff (20 ms doubling to 500 ms, with jitter) until the lease is free, a usable
    /// record appears, or the deadline passes (``BrokerError/Code/leaseUnavailable``). Under the lease the record
    /// is read again before `body` runs, so a refresh finished by another process is adopted, not repeated.
    func withRefreshLease(
        for key: StoreKey, observed: TokenRecord?, mode: AcquisitionMode, deadline: Date,
        _ body: (TokenRecord?) async throws -> TokenRecord
    ) async throws -> TokenRecord {
        let clock = configuration.clock
        var delay = Duration.milliseconds(20)
        var waitStart: ContinuousClock.Instant?
        defer {
            if let waitStart {
                metrics.leaseWaitDuration.recordNanoseconds(MonotonicTime.nanoseconds(since: waitStart))
            }
        }
        while true {
            let acquired = try await storeCall("acquire_lease", key) {
                try await self.store.acquireRefreshLease(
                    for: key, owner: self.leaseOwner, ttl: self.configuration.leaseTimeToLive)
            }
            if acquired {
                do {
                    let current = try await loadRecord(key)
                    let result: TokenRecord
                    if let current, current.version != observed?.version,
                        try isAcceptable(current, mode: mode, observedVersion: observed?.version, key: key)
                    {
                        emit(.adopted, key: key, grant: nil, record: current)
                        result = current
                    } else {
                        result = try await body(current)
                    }
                    await releaseLease(for: key)
                    return result
                } catch {
                    await releaseLease(for: key)
                    throw error
                }
            }
            if waitStart == nil {
                waitStart = MonotonicTime.now()
                metrics.leaseWaits.increment()
            }
            if clock.now().addingTimeInterval(delay.timeInterval) > deadline {
                throw BrokerError(
                    .leaseUnavailable, "another process held the refresh lease past the deadline",
                    provider: provider.id, key: key)
            }
            try await clock.sleep(delay + delay * Double.random(in: 0..<0.5))
            delay = min(delay * 2, .milliseconds(500))
            if let current = try await loadRecord(key),
                current.version != observed?.version,
                try isAcceptable(current, mode: mode, observedVersion: observed?.version, key: key)
            {
                emit(.adopted, key: key, grant: nil, record: current)
                return current
            }
        }
    }

    private func releaseLease(for key: StoreKey) async {
        do {
            try await store.releaseRefreshLease(for: key, owner: leaseOwner)
        } catch {
            logger.warning(
                "could not release the refresh lease; it expires by itself",
                metadata: ["oauth.key": "\(key)", "error": "\(error)"])
        }
    }

    /// Gets a new token for `key`: refresh when a refresh token is stored, else client credentials when allowed.
    func obtain(_ key: StoreKey, current: TokenRecord?, deadline: Date) async throws -> TokenRecord {
        if let current {
            try requireActive(current, key: key)
            if let refreshToken = current.refreshToken, provider.supports(.refreshToken) {
                return try await refreshGrant(key, current: current, refreshToken: refreshToken, deadline: deadline)
            }
        }
        if provider.supports(.clientCredentials) {
            return try await clientCredentialsGrant(key, existing: current, deadline: deadline)
        }
        if current == nil {
            throw BrokerError(
                .reauthorizationRequired, "nothing is stored for this key; a user must authorize first",
                provider: provider.id, key: key)
        }
        throw BrokerError(
            .reauthorizationRequired, "the token expired and no refresh token is stored", provider: provider.id,
            key: key)
    }
}
