import Foundation
import Logging
import Synchronization

/// How ``RecordWriter/persist(_:for:replacing:policy:recreatesMissing:lease:)`` resolves a lost race.
enum ConflictPolicy: Sendable {
    /// Adopt the winner's record if it is active and unexpired; otherwise retry over it. Never overwrite a
    /// revoked or needs-reauthorization record.
    case adoptUsable
    /// Replace whatever is there: a user has just granted access again.
    case overwrite
}

/// Stores tokens the broker already holds, so that a token the provider issued is never dropped.
///
/// ## Rules
/// 1. A write that fails with a transient store error (busy, locked, timed out, unreachable) is retried with
///    backoff for up to ``BrokerConfiguration/storeWriteTimeout``, separately from the HTTP deadline.
/// 2. After a failed attempt the record is read back before the next one: the failure may have been ambiguous (the
///    write happened, the answer was lost). A stored record that holds the new access token is this write.
/// 3. From the first failure on, this process's cache serves the new token while the write is retried.
/// 4. When the budget runs out, the token stays in memory as a *pending write*: a background task keeps retrying
///    it (every few seconds, holding the key's refresh lease when there is one, so no other process refreshes
///    with the token it replaced), and the key's next acquisition in this process serves or waits for it
///    instead of refreshing from the older stored token. The caller gets the store error.
final class RecordWriter: Sendable {
    private struct Pending: Sendable {
        let record: TokenRecord
        let replacing: TokenRecord?
        let policy: ConflictPolicy
        let recreatesMissing: Bool
        let lease: HeldLease?
        let task: Task<Void, Never>?
    }

    private let store: InstrumentedStore
    private let configuration: BrokerConfiguration
    private let logger: Logger
    private let provider: ProviderID
    private let remember: @Sendable (TokenRecord, StoreKey) -> Void
    private let pending = Mutex<[StoreKey: Pending]>([:])

    init(
        store: InstrumentedStore, configuration: BrokerConfiguration, logger: Logger, provider: ProviderID,
        remember: @escaping @Sendable (TokenRecord, StoreKey) -> Void
    ) {
        self.store = store
        self.configuration = configuration
        self.logger = logger
        self.provider = provider
        self.remember = remember
    }

    deinit {
        for entry in pending.withLock({ $0.values }) { entry.task?.cancel() }
    }

    /// The record of `key` that this process holds but could not store yet, if any.
    func pendingRecord(for key: StoreKey) -> TokenRecord? {
        pending.withLock { $0[key]?.record }
    }

    /// The number of keys whose newest token is held in memory only.
    var pendingCount: Int { pending.withLock { $0.count } }

    /// Drops `key`'s pending write (the record was revoked or deleted on purpose) and returns it.
    func discardPending(for key: StoreKey) async -> TokenRecord? {
        guard let entry = pending.withLock({ $0.removeValue(forKey: key) }) else { return nil }
        entry.task?.cancel()
        await entry.lease?.finish()
        return entry.record
    }

    /// Stores `new` over `existing` (by compare-and-swap) or as a new record (insert), resolving lost races by
    /// `policy`, retrying transient store failures within the store-write budget.
    ///
    /// - Parameter lease: The refresh lease held for the key, renewed before each write; kept alive by a pending
    ///   write when the budget runs out.
    /// - Returns: The stored record, and whether it is another writer's record that was adopted.
    func persist(
        _ new: TokenRecord, for key: StoreKey, replacing existing: TokenRecord?, policy: ConflictPolicy,
        recreatesMissing: Bool = false, lease: HeldLease? = nil
    ) async throws -> (TokenRecord, adopted: Bool) {
        do {
            return try await write(
                new, for: key, replacing: existing, policy: policy, recreatesMissing: recreatesMissing, lease: lease,
                budget: configuration.storeWriteTimeout)
        } catch let failure as WriteFailure {
            keepPending(
                failure.record, for: key, replacing: failure.expected, policy: policy,
                recreatesMissing: recreatesMissing, lease: lease)
            throw BrokerError(
                failure.error.code,
                "the new token could not be stored within storeWriteTimeout (\(configuration.storeWriteTimeout)); "
                    + "this broker keeps it in memory and goes on writing it while it runs "
                    + "(\(failure.error.message))",
                provider: provider, key: key, underlying: failure.error)
        }
    }

    /// The write budget ran out; carries what to keep.
    private struct WriteFailure: Error {
        let record: TokenRecord
        let expected: TokenRecord?
        let error: BrokerError
    }

    private func write(
        _ new: TokenRecord, for key: StoreKey, replacing existing: TokenRecord?, policy: ConflictPolicy,
        recreatesMissing: Bool, lease: HeldLease?, budget: Duration
    ) async throws -> (TokenRecord, adopted: Bool) {
        let clock = configuration.clock
        let budgetEnd = clock.now().addingTimeInterval(budget.timeInterval)
        var expected = existing
        var backoff = Duration.milliseconds(25)
        var races = 0
        var failures = 0
        while true {
            var candidate = new
            candidate.version =
                expected.map { $0.version &+ 1 } ?? TokenRecord.initialVersion(at: configuration.clock.now())
            do {
                if failures > 0 || races > 0 { _ = try? await lease?.renew() }
                let winner: TokenRecord
                if let current = expected {
                    switch try await store.compareAndSwap(key, expecting: current.version, with: candidate) {
                    case .swapped(let stored):
                        return (stored, false)
                    case .missing:
                        guard recreatesMissing else {
                            throw BrokerError(
                                .recordDeleted,
                                "the record was deleted while a token was obtained; it is not recreated",
                                provider: provider, key: key)
                        }
                        expected = nil
                        continue
                    case .conflict(let current):
                        winner = current
                    }
                } else {
                    switch try await store.insert(candidate, for: key) {
                    case .inserted(let stored): return (stored, false)
                    case .exists(let current): winner = current
                    }
                }
                // An earlier attempt that failed ambiguously may have stored this very token.
                if winner.accessToken == new.accessToken { return (winner, false) }
                if policy == .adoptUsable {
                    try requireActive(winner, key: key)
                    if !winner.isExpired(at: configuration.clock.now()) { return (winner, true) }
                } else if winner.status == .revoked && existing?.status != .revoked {
                    // A revocation that landed after the code was redeemed wins even over a new grant.
                    throw BrokerError(
                        .tokenRevoked, "the grant was revoked while the token was stored", provider: provider, key: key)
                }
                expected = winner
                races += 1
                if races >= 8 {
                    throw BrokerError(.storeFailed, "lost eight store races in a row", provider: provider, key: key)
                }
            } catch let error as BrokerError where error.isTransient {
                failures += 1
                if failures == 1 {
                    // Rule 3: serve the token from memory while the write is retried.
                    remember(candidate, key)
                    logger.warning(
                        "storing a new token failed; retrying within storeWriteTimeout",
                        metadata: ["oauth.key": "\(key)", "oauth.provider": "\(provider)", "error": "\(error.code)"])
                }
                let delay = backoff * Double.random(in: 0.5...1.0)
                guard clock.now().addingTimeInterval(delay.timeInterval) < budgetEnd else {
                    throw WriteFailure(record: candidate, expected: expected, error: error)
                }
                try await clock.sleep(delay)
                backoff = min(backoff * 2, .seconds(1))
                // Rule 2: find out whether the failed attempt was stored after all.
                if let current = try? await store.record(for: key) {
                    if current.accessToken == new.accessToken { return (current, false) }
                    if current.version != expected?.version {
                        expected = current
                    }
                }
            }
        }
    }

    private func keepPending(
        _ record: TokenRecord, for key: StoreKey, replacing expected: TokenRecord?, policy: ConflictPolicy,
        recreatesMissing: Bool, lease: HeldLease?
    ) {
        let task = Task { [weak self] in
            var delay = Duration.seconds(1)
            while !Task.isCancelled {
                do { try await Task.sleep(for: delay) } catch { return }
                guard let self else { return }
                if await self.flush(key) { return }
                delay = min(delay * 2, .seconds(30))
            }
        }
        let entry = Pending(
            record: record, replacing: expected, policy: policy,
            recreatesMissing: recreatesMissing, lease: lease, task: task)
        let previous = pending.withLock { $0.updateValue(entry, forKey: key) }
        previous?.task?.cancel()
        lease?.detach()
    }

    /// Tries to store `key`'s pending write, retrying transient failures within `budget` (by default one
    /// store-write budget; `.zero` makes one attempt). Returns whether the key has no pending write any more
    /// (stored, adopted, or refused for good).
    @discardableResult
    func flush(_ key: StoreKey, budget: Duration? = nil) async -> Bool {
        guard let entry = pending.withLock({ $0[key] }) else { return true }
        do {
            let (stored, _) = try await write(
                entry.record, for: key, replacing: entry.replacing, policy: entry.policy,
                recreatesMissing: entry.recreatesMissing, lease: entry.lease,
                budget: budget ?? configuration.storeWriteTimeout)
            remember(stored, key)
            logger.notice(
                "a token held in memory was stored", metadata: ["oauth.key": "\(key)", "oauth.provider": "\(provider)"])
        } catch is WriteFailure {
            return false
        } catch {
            logger.error(
                "a token held in memory cannot be stored",
                metadata: [
                    "oauth.key": "\(key)", "oauth.provider": "\(provider)",
                    "error": "\((error as? BrokerError)?.code.description ?? "other")",
                ])
        }
        let removed = pending.withLock { pending -> Pending? in
            guard let current = pending[key], current.record.accessToken == entry.record.accessToken else { return nil }
            return pending.removeValue(forKey: key)
        }
        await removed?.lease?.finish()
        return true
    }

    private func requireActive(_ record: TokenRecord, key: StoreKey) throws {
        try TokenRecord.requireActive(record, provider: provider, key: key)
    }
}

extension TokenRecord {
    /// Throws the error that matches an unusable status.
    static func requireActive(_ record: TokenRecord, provider: ProviderID, key: StoreKey) throws {
        switch record.status {
        case .active: return
        case .revoked: throw BrokerError(.tokenRevoked, "the stored grant was revoked", provider: provider, key: key)
        default:
            throw BrokerError(
                .reauthorizationRequired, "the stored grant needs re-authorization (status \(record.status))",
                provider: provider, key: key)
        }
    }
}
