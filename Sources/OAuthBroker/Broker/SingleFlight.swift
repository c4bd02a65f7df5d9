import Synchronization

/// Runs at most one operation per key at a time; concurrent callers for the key share its result.
///
/// - The operation runs in its own unstructured task, so it finishes even if every caller is cancelled: a refresh
///   whose response rotated the refresh token always reaches the store.
/// - Callers wait on continuations, not on the task: a cancelled caller stops waiting at once with
///   `CancellationError`, and a caller whose deadline passes stops with ``BrokerError/Code/deadlineExceeded``;
///   both leave the operation running for the others.
/// - The entry for a key is removed when its operation finishes, so the table holds only keys in flight.
final class SingleFlight<Key: Hashable & Sendable, Value: Sendable>: Sendable {
    private typealias Waiter = CheckedContinuation<Value, any Error>

    private struct Flight {
        var waiters: [UInt64: Waiter] = [:]
        var timers: [UInt64: Task<Void, Never>] = [:]
        /// Callers waiting only for the operation to end (``runExclusive(_:timeout:operation:joinerResult:)``).
        var idleWaiters: [UInt64: CheckedContinuation<Bool, Never>] = [:]
    }

    private struct State {
        var flights: [Key: Flight] = [:]
        var nextWaiterID: UInt64 = 0
    }

    private let state = Mutex(State())
    private let onJoin: @Sendable () -> Void

    /// Creates an empty table.
    /// - Parameter onJoin: Called whenever a caller joins an operation already in flight (for metrics).
    init(onJoin: @escaping @Sendable () -> Void = {}) {
        self.onJoin = onJoin
    }

    /// The number of keys with an operation in flight.
    var inFlightCount: Int { state.withLock { $0.flights.count } }

    /// Whether an operation is in flight for `key`.
    func isInFlight(_ key: Key) -> Bool { state.withLock { $0.flights[key] != nil } }

    /// Joins the operation in flight for `key`, or starts `operation` as the leader, and waits for its result.
    ///
    /// - Parameters:
    ///   - key: The key.
    ///   - timeout: How long this caller waits at most; `nil` waits until the operation finishes.
    ///   - operation: The work; runs only if no operation is in flight for `key`.
    /// - Returns: The operation's value.
    /// - Throws: The operation's error, `CancellationError`, or ``BrokerError/Code/deadlineExceeded``.
    func run(
        _ key: Key, timeout: Duration?, operation: @escaping @Sendable () async throws -> Value
    ) async throws -> Value {
        let id = state.withLock { state -> UInt64 in
            state.nextWaiterID &+= 1
            return state.nextWaiterID
        }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: Waiter) in
                let outcome = state.withLock { state -> (launch: Bool, cancelled: Bool) in
                    if Task.isCancelled { return (false, true) }
                    if state.flights[key] != nil {
                        state.flights[key]!.waiters[id] = continuation
                        return (false, false)
                    }
                    state.flights[key] = Flight(waiters: [id: continuation])
                    return (true, false)
                }
                if outcome.cancelled {
                    continuation.resume(throwing: CancellationError())
                    return
                }
                if !outcome.launch { onJoin() }
                if let timeout { armTimer(key: key, waiter: id, timeout: timeout) }
                if outcome.launch { launch(key: key, operation: operation) }
            }
        } onCancel: {
            self.removeWaiter(key: key, id: id, error: CancellationError())
        }
    }

    /// Runs `operation` for `key` as the only operation in flight: waits (up to `timeout`) for the current one to
    /// finish, then leads. Callers that join while it runs get `joinerResult` of its outcome.
    ///
    /// For operations that must not overlap a refresh of the same key (revocation). The operation runs in its own
    /// task, like every leader, so it finishes even if the caller is cancelled.
    func runExclusive<T: Sendable>(
        _ key: Key, timeout: Duration, operation: @escaping @Sendable () async throws -> T,
        joinerResult: @escaping @Sendable (Result<T, any Error>) -> Result<Value, any Error>
    ) async throws -> T {
        let giveUp = ContinuousClock.now + timeout
        while true {
            let claimed = state.withLock { state -> Bool in
                guard state.flights[key] == nil else { return false }
                state.flights[key] = Flight()
                return true
            }
            if claimed {
                let task = Task {
                    let result: Result<T, any Error>
                    do { result = .success(try await operation()) } catch { result = .failure(error) }
                    self.finish(key: key, with: joinerResult(result))
                    return try result.get()
                }
                return try await task.value
            }
            guard ContinuousClock.now < giveUp else {
                throw BrokerError(
                    .deadlineExceeded, "gave up waiting for the key's operation in flight after \(timeout)")
            }
            try await waitUntilIdle(key, timeout: giveUp - ContinuousClock.now)
        }
    }

    /// Waits until no operation is in flight for `key` (or `timeout` passes, or the caller is cancelled), ignoring
    /// the operation's outcome.
    private func waitUntilIdle(_ key: Key, timeout: Duration) async throws {
        let id = state.withLock { state -> UInt64 in
            state.nextWaiterID &+= 1
            return state.nextWaiterID
        }
        let finished: Bool = await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
                let joined = state.withLock { state -> Bool in
                    guard state.flights[key] != nil, !Task.isCancelled else { return false }
                    state.flights[key]!.idleWaiters[id] = continuation
                    return true
                }
                if !joined {
                    continuation.resume(returning: !Task.isCancelled)
                    return
                }
                let timer = Task {
                    do { try await Task.sleep(for: timeout) } catch { return }
                    self.removeIdleWaiter(key: key, id: id)
                }
                let armed = state.withLock { state -> Bool in
                    guard state.flights[key]?.idleWaiters[id] != nil else { return false }
                    state.flights[key]!.timers[id] = timer
                    return true
                }
                if !armed { timer.cancel() }
            }
        } onCancel: {
            self.removeIdleWaiter(key: key, id: id)
        }
        try Task.checkCancellation()
        if !finished { throw BrokerError(.deadlineExceeded, "gave up waiting for the key's operation in flight") }
    }

    private func removeIdleWaiter(key: Key, id: UInt64) {
        let removed = state.withLock { state -> (CheckedContinuation<Bool, Never>?, Task<Void, Never>?) in
            guard state.flights[key] != nil else { return (nil, nil) }
            return (
                state.flights[key]!.idleWaiters.removeValue(forKey: id),
                state.flights[key]!.timers.removeValue(forKey: id)
            )
        }
        removed.1?.cancel()
        removed.0?.resume(returning: false)
    }

    /// Starts `operation` for `key` unless one is in flight, without waiting for it.
    /// - Returns: Whether this call started it.
    @discardableResult
    func launchIfIdle(_ key: Key, operation: @escaping @Sendable () async throws -> Value) -> Bool {
        let started = state.withLock { state -> Bool in
            guard state.flights[key] == nil else { return false }
            state.flights[key] = Flight()
            return true
        }
        if started { launch(key: key, operation: operation) }
        return started
    }

    private func launch(key: Key, operation: @escaping @Sendable () async throws -> Value) {
        Task {
            let result: Result<Value, any Error>
            do { result = .success(try await operation()) } catch { result = .failure(error) }
            self.finish(key: key, with: result)
        }
    }

    private func finish(key: Key, with result: Result<Value, any Error>) {
        let flight = state.withLock { $0.flights.removeValue(forKey: key) }
        guard let flight else { return }
        for timer in flight.timers.values { timer.cancel() }
        for waiter in flight.waiters.values { waiter.resume(with: result) }
        for waiter in flight.idleWaiters.values { waiter.resume(returning: true) }
    }

    private func armTimer(key: Key, waiter id: UInt64, timeout: Duration) {
        let timer = Task {
            do { try await Task.sleep(for: timeout) } catch { return }
            self.removeWaiter(
                key: key, id: id,
                error: BrokerError(.deadlineExceeded, "gave up waiting for a shared token request after \(timeout)"))
        }
        let armed = state.withLock { state -> Bool in
            guard state.flights[key]?.waiters[id] != nil else { return false }
            state.flights[key]!.timers[id] = timer
            return true
        }
        if !armed { timer.cancel() }
    }

    private func removeWaiter(key: Key, id: UInt64, error: any Error) {
        let removed = state.withLock { state -> (Waiter?, Task<Void, Never>?) in
            guard state.flights[key] != nil else { return (nil, nil) }
            let waiter = state.flights[key]!.waiters.removeValue(forKey: id)
            let timer = state.flights[key]!.timers.removeValue(forKey: id)
            return (waiter, timer)
        }
        removed.1?.cancel()
        removed.0?.resume(throwing: error)
    }
}
