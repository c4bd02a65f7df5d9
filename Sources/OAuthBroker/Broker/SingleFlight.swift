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
