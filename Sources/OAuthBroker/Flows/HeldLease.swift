import Synchronization

/// A refresh lease this process holds, kept alive while the holder works.
///
/// A background task renews the lease every third of its time-to-live (renewing is taking it again as the same
/// owner, which stores accept and which resets the time-to-live). ``confirm()`` renews at once and succeeds only
/// if the lease has been held without a gap: the renewal succeeded and the previous successful renewal (or the
/// acquisition) was less than one time-to-live ago, measured on the monotonic clock. A gap means another process
/// could have taken the lease in between, so the holder must not send a one-time grant.
///
/// The holder calls ``confirm()`` before every attempt of a one-time grant and renews before the compare-and-swap
/// that stores the result; ``end()`` stops the renewals and releases the lease.
final class HeldLease: Sendable {
    private struct State {
        var lastConfirmed: ContinuousClock.Instant
        var lost = false
        /// A pending write owns the lease now: ``end()`` leaves it alone, ``finish()`` ends it.
        var detached = false
    }

    let key: StoreKey
    private let store: InstrumentedStore
    private let owner: LeaseOwner
    private let ttl: Duration
    private let state: Mutex<State>
    private let renewer = Mutex<Task<Void, Never>?>(nil)

    /// Starts keeping alive a lease that was just acquired.
    init(key: StoreKey, store: InstrumentedStore, owner: LeaseOwner, ttl: Duration, acquiredAt: ContinuousClock.Instant)
    {
        self.key = key
        self.store = store
        self.owner = owner
        self.ttl = ttl
        self.state = Mutex(State(lastConfirmed: acquiredAt))
        let interval = ttl / 3
        let task = Task { [weak self] in
            while !Task.isCancelled {
                do { try await Task.sleep(for: interval) } catch { return }
                guard let self else { return }
                _ = try? await self.renew()
            }
        }
        renewer.withLock { $0 = task }
    }

    deinit {
        renewer.withLock { $0?.cancel() }
    }

    /// Renews the lease now and throws unless it has been held without a gap.
    /// - Throws: ``BrokerError/Code/leaseUnavailable`` when the lease was lost or could not be confirmed.
    func confirm() async throws {
        do {
            if try await renew() { return }
        } catch {
            throw BrokerError(
                .leaseUnavailable, "could not renew the refresh lease; not sending a one-time grant",
                key: key, underlying: error)
        }
        throw BrokerError(
            .leaseUnavailable, "the refresh lease was lost; not sending a one-time grant", key: key)
    }

    /// Renews the lease once. Returns whether it is still held without a gap; a store failure throws and leaves
    /// the lease as it was (it is still held while less than one time-to-live has passed since the last renewal).
    @discardableResult
    func renew() async throws -> Bool {
        if state.withLock({ $0.lost }) { return false }
        let started = ContinuousClock.now
        let renewed = try await store.acquireLease(for: key, owner: owner, ttl: ttl)
        let returned = ContinuousClock.now
        return state.withLock { state in
            if state.lost { return false }
            // The last confirmed time-to-live started no earlier than `lastConfirmed`, and this renewal was written
            // before `returned`: if a whole time-to-live may have passed in between, the lease may have lapsed
            // (and been taken by another process) before it was renewed. The new time-to-live starts no earlier
            // than `started`.
            guard renewed, returned - state.lastConfirmed < ttl else {
                state.lost = true
                return false
            }
            state.lastConfirmed = started
            return true
        }
    }

    /// Stops the renewals and releases the lease, unless a pending write took it over (``detach()``).
    func end() async {
        if state.withLock({ $0.detached }) { return }
        await finish()
    }

    /// Hands the lease to a pending write: it stays renewed until ``finish()``.
    func detach() {
        state.withLock { $0.detached = true }
    }

    /// Stops the renewals and releases the lease, whoever holds it in this process.
    func finish() async {
        renewer.withLock {
            $0?.cancel()
            $0 = nil
        }
        state.withLock { $0.lost = true }
        // Owner-checked by the store: harmless if another process holds the lease now.
        await store.releaseLease(for: key, owner: owner)
    }
}
