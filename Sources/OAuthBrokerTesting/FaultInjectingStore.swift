public import Foundation
public import OAuthBroker
import Synchronization

/// A ``OAuthBroker/BrokerStore`` that forwards every call to another store and, on demand, fails, refuses or
/// delays chosen calls; it counts every call and reports each one as it starts.
///
/// With nothing armed it behaves exactly like the wrapped store (and passes ``StoreConformance``). Arm faults for
/// the next calls with ``failNext(_:of:skipping:timing:error:)`` and ``refuseNextLeaseAcquisitions(_:skipping:)``,
/// slow writes down with ``writeDelay``, and wait for a call with ``makeCallStream()`` instead of sleeping:
/// ```swift
/// let store = FaultInjectingStore(wrapping: MemoryStore())
/// // The rotated tokens reach the store, but the broker is told the write failed.
/// store.failNext(of: .compareAndSwap, timing: .afterApplying)
/// let calls = store.makeCallStream()
/// async let token = broker.accessToken(for: key)
/// for await call in calls where call == .compareAndSwap { break }  // the write has started
/// ```
///
/// Each fault covers a set of ``Operations`` and a number of calls. A call is decided when it starts: it is
/// counted, reported to every call stream, matched against the armed faults in the order they were armed (the
/// first one that covers the operation and is not used up decides), delayed if it is a write, and then forwarded,
/// failed or refused. Calls the wrapped store makes to itself (its default `setStatus` looping over
/// compare-and-swap) are not seen.
///
/// - Important: Every method is safe to call from any task; the state lives in one `Mutex`.
public final class FaultInjectingStore: BrokerStore {
    /// What an armed fault does to a call.
    private enum Action {
        /// Throw the error (`nil`: the default one) before or after forwarding.
        case fail((any Error)?, FailureTiming)
        case refuse
    }

    /// An armed fault: let `skip` matching calls pass, then apply `action` to the next `remaining` ones.
    private struct Rule {
        var operations: Operations
        var skip: Int
        var remaining: Int
        var action: Action
    }

    private struct State {
        var rules: [Rule] = []
        var counts: [Operations: Int] = [:]
        var faultsInjected = 0
        var writeDelay: Duration = .zero
        var subscribers: [Int: AsyncStream<Operations>.Continuation] = [:]
        var nextSubscriber = 0
    }

    /// The store every call is forwarded to. Calls made on it directly are neither counted nor faulted.
    public let wrapped: any BrokerStore

    private let leasesOverride: Bool?
    private let state = Mutex(State())

    /// Wraps `store`.
    ///
    /// - Parameters:
    ///   - store: The store to forward to.
    ///   - providesRefreshLeases: What ``providesRefreshLeases`` answers, or `nil` (the default) to forward it.
    ///     Pass `true` to make a broker coordinate through the leases of a ``OAuthBroker/MemoryStore``.
    public init(wrapping store: some BrokerStore, providesRefreshLeases: Bool? = nil) {
        wrapped = store
        leasesOverride = providesRefreshLeases
    }

    deinit {
        let subscribers = state.withLock { Array($0.subscribers.values) }
        for subscriber in subscribers { subscriber.finish() }
    }

    // MARK: - Arming

    /// Arms a failure for the next `count` calls to any of `operations`, after letting `skipping` of them pass.
    ///
    /// - Parameters:
    ///   - count: How many calls fail. Defaults to one.
    ///   - operations: The operations covered, for example ``Operations/writes``, ``Operations/reads`` or
    ///     ``Operations/acquireRefreshLease``.
    ///   - skipping: How many covered calls pass untouched first. Defaults to zero.
    ///   - timing: ``FailureTiming/beforeApplying`` (the default: a clean failure, nothing changes) or
    ///     ``FailureTiming/afterApplying`` (an ambiguous failure: the wrapped store applied the call).
    ///   - error: The error thrown, or `nil` (the default) for a transient ``OAuthBroker/BrokerError`` with code
    ///     ``OAuthBroker/BrokerError/Code/storeUnavailable`` naming the operation.
    /// - Precondition: `count` is positive, `skipping` is not negative and `operations` is not empty.
    public func failNext(
        _ count: Int = 1, of operations: Operations, skipping: Int = 0,
        timing: FailureTiming = .beforeApplying, error: (any Error)? = nil
    ) {
        arm(Rule(operations: operations, skip: skipping, remaining: count, action: .fail(error, timing)))
    }

    /// Makes the next `count` calls to ``acquireRefreshLease(for:owner:ttl:)`` return `false` (another owner holds
    /// the lease) without asking the wrapped store, after letting `skipping` of them pass.
    ///
    /// - Parameters:
    ///   - count: How many acquisitions or renewals are refused. Defaults to one.
    ///   - skipping: How many acquisitions pass untouched first, for example 1 to refuse only the first renewal.
    /// - Precondition: `count` is positive and `skipping` is not negative.
    public func refuseNextLeaseAcquisitions(_ count: Int = 1, skipping: Int = 0) {
        arm(Rule(operations: .acquireRefreshLease, skip: skipping, remaining: count, action: .refuse))
    }

    private func arm(_ rule: Rule) {
        precondition(rule.remaining > 0, "a fault must cover at least one call")
        precondition(rule.skip >= 0, "a fault cannot skip a negative number of calls")
        precondition(!rule.operations.isEmpty, "a fault must cover at least one operation")
        state.withLock { $0.rules.append(rule) }
    }

    /// Disarms every fault that has not been used up. The ``writeDelay`` stays.
    public func removeAllFaults() {
        state.withLock { $0.rules = [] }
    }

    /// The number of calls the armed faults will still fail or refuse (not counting calls they will skip first).
    public var pendingFaultCount: Int {
        state.withLock { $0.rules.reduce(0) { $0 + $1.remaining } }
    }

    /// A delay before every write (``Operations/writes``) is applied or failed. Defaults to zero.
    ///
    /// Cancelling the caller does not shorten it: like a command already sent to a server, the write goes on.
    /// Writes already waiting keep the delay they started with.
    public var writeDelay: Duration {
        get { state.withLock { $0.writeDelay } }
        set { state.withLock { $0.writeDelay = max(.zero, newValue) } }
    }

    // MARK: - Observing

    /// The number of calls to any of `operations` so far, including failed and refused ones.
    ///
    /// - Parameter operations: One operation, or several to add up, for example ``Operations/writes``.
    /// - Returns: The count.
    public func callCount(of operations: Operations) -> Int {
        state.withLock { state in operations.elements.reduce(0) { $0 + state.counts[$1, default: 0] } }
    }

    /// The number of calls that an armed fault failed or refused.
    public var faultsInjected: Int { state.withLock { $0.faultsInjected } }

    /// Sets the call counts and ``faultsInjected`` back to zero.
    public func resetCounts() {
        state.withLock { state in
            state.counts = [:]
            state.faultsInjected = 0
        }
    }

    /// A stream of every call that starts from now on, as the single operation called, in the order they start.
    ///
    /// A call is reported after it is counted and before it is delayed, forwarded or failed, so a test can wait for
    /// "the write has started" and act while it is in flight. Each stream buffers what it has not read yet; it
    /// finishes when the store is deallocated. Make the stream before starting the work it should see.
    ///
    /// - Returns: A new stream; every stream gets every call.
    public func makeCallStream() -> AsyncStream<Operations> {
        let (stream, continuation) = AsyncStream<Operations>.makeStream()
        let id = state.withLock { state in
            defer { state.nextSubscriber += 1 }
            state.subscribers[state.nextSubscriber] = continuation
            return state.nextSubscriber
        }
        continuation.onTermination = { [weak self] _ in
            self?.state.withLock { _ = $0.subscribers.removeValue(forKey: id) }
        }
        return stream
    }

    // MARK: - Running a call

    /// Counts and reports the call, and takes the decision of the first armed fault that covers it.
    private func begin(_ operation: Operations) -> (action: Action?, delay: Duration) {
        let (action, delay, subscribers) = state.withLock { state in
            state.counts[operation, default: 0] += 1
            var action: Action?
            if let index = state.rules.firstIndex(where: { $0.operations.contains(operation) }) {
                if state.rules[index].skip > 0 {
                    state.rules[index].skip -= 1
                } else {
                    action = state.rules[index].action
                    state.rules[index].remaining -= 1
                    if state.rules[index].remaining == 0 { state.rules.remove(at: index) }
                    state.faultsInjected += 1
                }
            }
            let delay = Operations.writes.contains(operation) ? state.writeDelay : .zero
            return (action, delay, Array(state.subscribers.values))
        }
        for subscriber in subscribers { subscriber.yield(operation) }
        return (action, delay)
    }

    /// Runs `body` against the wrapped store unless an armed fault says otherwise.
    private func perform<Result>(
        _ operation: Operations, refusal: Result? = nil, _ body: () async throws -> Result
    ) async throws -> Result {
        let (action, delay) = begin(operation)
        if delay > .zero {
            // A detached task is not cancelled with the caller, so the delay runs out in full.
            await Task.detached { try? await Task.sleep(for: delay) }.value
        }
        switch action {
        case nil:
            return try await body()
        case .refuse:
            guard let refusal else { return try await body() }
            return refusal
        case .fail(let error, let timing):
            if timing == .afterApplying { _ = try await body() }
            throw error ?? BrokerError(.storeUnavailable, "FaultInjectingStore: injected failure of \(operation)")
        }
    }

    // MARK: - BrokerStore

    /// The wrapped store's kind.
    public var kind: String { wrapped.kind }

    /// The value given to ``init(wrapping:providesRefreshLeases:)``, or the wrapped store's.
    public var providesRefreshLeases: Bool { leasesOverride ?? wrapped.providesRefreshLeases }

    /// Forwards ``OAuthBroker/BrokerStore/record(for:)`` (a read: ``Operations/record``).
    public func record(for key: StoreKey) async throws -> TokenRecord? {
        try await perform(.record) { try await wrapped.record(for: key) }
    }

    /// Forwards ``OAuthBroker/BrokerStore/insert(_:for:)`` (a write: ``Operations/insert``).
    public func insert(_ record: TokenRecord, for key: StoreKey) async throws -> InsertOutcome {
        try await perform(.insert) { try await wrapped.insert(record, for: key) }
    }

    /// Forwards ``OAuthBroker/BrokerStore/compareAndSwap(_:expecting:with:)`` (a write:
    /// ``Operations/compareAndSwap``).
    public func compareAndSwap(_ key: StoreKey, expecting expected: UInt64, with new: TokenRecord) async throws
        -> SwapOutcome
    {
        try await perform(.compareAndSwap) { try await wrapped.compareAndSwap(key, expecting: expected, with: new) }
    }

    /// Forwards ``OAuthBroker/BrokerStore/setStatus(_:for:)`` (a write: ``Operations/setStatus``) to the wrapped
    /// store's own implementation.
    public func setStatus(_ status: TokenRecord.Status, for key: StoreKey) async throws -> TokenRecord? {
        try await perform(.setStatus) { try await wrapped.setStatus(status, for: key) }
    }

    /// Forwards ``OAuthBroker/BrokerStore/deleteRecord(for:)``.
    @discardableResult
    public func deleteRecord(for key: StoreKey) async throws -> Bool {
        try await perform(.deleteRecord) { try await wrapped.deleteRecord(for: key) }
    }

    /// Forwards ``OAuthBroker/BrokerStore/keys(tenant:)``.
    public func keys(tenant: TenantID?) async throws -> [StoreKey] {
        try await perform(.keys) { try await wrapped.keys(tenant: tenant) }
    }

    /// Forwards ``OAuthBroker/BrokerStore/saveSession(_:)``.
    public func saveSession(_ session: AuthorizationSession) async throws {
        try await perform(.saveSession) { try await wrapped.saveSession(session) }
    }

    /// Forwards ``OAuthBroker/BrokerStore/takeSession(id:)``.
    public func takeSession(id: String) async throws -> AuthorizationSession? {
        try await perform(.takeSession) { try await wrapped.takeSession(id: id) }
    }

    /// Forwards ``OAuthBroker/BrokerStore/purgeExpiredSessions(before:)``.
    @discardableResult
    public func purgeExpiredSessions(before instant: Date) async throws -> Int {
        try await perform(.purgeExpiredSessions) { try await wrapped.purgeExpiredSessions(before: instant) }
    }

    /// Forwards ``OAuthBroker/BrokerStore/acquireRefreshLease(for:owner:ttl:)``, or returns `false` for a call
    /// refused by ``refuseNextLeaseAcquisitions(_:skipping:)``.
    public func acquireRefreshLease(for key: StoreKey, owner: LeaseOwner, ttl: Duration) async throws -> Bool {
        try await perform(.acquireRefreshLease, refusal: false) {
            try await wrapped.acquireRefreshLease(for: key, owner: owner, ttl: ttl)
        }
    }

    /// Forwards ``OAuthBroker/BrokerStore/releaseRefreshLease(for:owner:)``.
    public func releaseRefreshLease(for key: StoreKey, owner: LeaseOwner) async throws {
        try await perform(.releaseRefreshLease) { try await wrapped.releaseRefreshLease(for: key, owner: owner) }
    }
}
