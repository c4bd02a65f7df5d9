import OAuthBroker
import Synchronization

/// A bounded pool of ``RedisConnectionSlot``s.
///
/// Slots are created on demand up to the pool size; an operation checks one out, runs on it, and checks it back
/// in. When every slot is busy, callers wait in FIFO order, at most ``RedisStore/Configuration/poolTimeout``
/// (then ``BrokerError/Code/storeUnavailable``), or until their task is cancelled (``BrokerError/Code/cancelled``).
/// State lives under a `Mutex`; no lock is held across an `await`.
final class RedisConnectionPool: Sendable {
    private struct Waiter {
        let id: UInt64
        let continuation: CheckedContinuation<RedisConnectionSlot, any Error>
        let timer: Task<Void, Never>
    }

    private struct State {
        var idle: [RedisConnectionSlot] = []
        var all: [RedisConnectionSlot] = []
        var waiters: [Waiter] = []
        /// Waiters between taking an id and joining the queue.
        var registering: Set<UInt64> = []
        /// Waiters cancelled while registering.
        var cancelled: Set<UInt64> = []
        var nextWaiterID: UInt64 = 0
        var isShutDown = false
    }

    private enum Checkout {
        case slot(RedisConnectionSlot)
        case queued
        case failed(BrokerError)
    }

    private let configuration: RedisStore.Configuration
    private let state = Mutex(State())

    init(configuration: RedisStore.Configuration) {
        self.configuration = configuration
    }

    /// Runs `body` on a pooled connection, off the cooperative pool.
    func run<T: Sendable>(_ body: @escaping @Sendable (RedisConnection) throws -> T) async throws -> T {
        let slot = try await checkOut()
        defer { checkIn(slot) }
        return try await slot.run(body)
    }

    /// Every slot created so far.
    var slots: [RedisConnectionSlot] { state.withLock { $0.all } }

    /// Closes every connection and fails waiting and later operations with ``BrokerError/Code/storeFailed``.
    func shutdown() async {
        let (slots, waiters) = state.withLock { state in
            state.isShutDown = true
            let waiters = state.waiters
            state.waiters = []
            state.idle = []
            return (state.all, waiters)
        }
        for waiter in waiters {
            waiter.timer.cancel()
            waiter.continuation.resume(throwing: Self.shutDownError)
        }
        for slot in slots { await slot.close() }
    }

    private static let shutDownError = BrokerError(.storeFailed, "the RedisStore was shut down")

    private func checkOut() async throws -> RedisConnectionSlot {
        // Fast path: no continuation, no timer.
        let immediate: RedisConnectionSlot? = try state.withLock { state in
            guard !state.isShutDown else { throw Self.shutDownError }
            return takeSlot(&state)
        }
        if let immediate { return immediate }

        let id = state.withLock { state in
            state.nextWaiterID += 1
            state.registering.insert(state.nextWaiterID)
            return state.nextWaiterID
        }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                let timeout = configuration.poolTimeout
                let timer = Task { [weak self] in
                    try? await Task.sleep(for: timeout)
                    guard !Task.isCancelled else { return }
                    self?.fail(
                        waiter: id,
                        with: BrokerError(
                            .storeUnavailable, "no Redis connection came free within \(timeout) (pool exhausted)"))
                }
                let outcome: Checkout = state.withLock { state in
                    state.registering.remove(id)
                    if state.isShutDown { return .failed(Self.shutDownError) }
                    if state.cancelled.remove(id) != nil {
                        return .failed(BrokerError(.cancelled, "cancelled while waiting for a Redis connection"))
                    }
                    if let slot = takeSlot(&state) { return .slot(slot) }
                    state.waiters.append(Waiter(id: id, continuation: continuation, timer: timer))
                    return .queued
                }
                switch outcome {
                case .slot(let slot):
                    timer.cancel()
                    continuation.resume(returning: slot)
                case .failed(let error):
                    timer.cancel()
                    continuation.resume(throwing: error)
                case .queued:
                    break
                }
            }
        } onCancel: {
            let isQueued = state.withLock { state in
                if state.waiters.contains(where: { $0.id == id }) { return true }
                // Not queued yet: the check-out sees the mark and fails. Already served: nothing to do.
                if state.registering.remove(id) != nil { state.cancelled.insert(id) }
                return false
            }
            if isQueued {
                fail(waiter: id, with: BrokerError(.cancelled, "cancelled while waiting for a Redis connection"))
            }
        }
    }

    /// An idle slot, or a new one when the pool is not full.
    private func takeSlot(_ state: inout State) -> RedisConnectionSlot? {
        if let slot = state.idle.popLast() { return slot }
        guard state.all.count < configuration.poolSize else { return nil }
        let slot = RedisConnectionSlot(configuration: configuration, index: state.all.count)
        state.all.append(slot)
        return slot
    }

    private func checkIn(_ slot: RedisConnectionSlot) {
        let waiter: Waiter? = state.withLock { state in
            guard !state.isShutDown else { return nil }
            if !state.waiters.isEmpty { return state.waiters.removeFirst() }
            state.idle.append(slot)
            return nil
        }
        if let waiter {
            waiter.timer.cancel()
            waiter.continuation.resume(returning: slot)
        }
    }

    private func fail(waiter id: UInt64, with error: BrokerError) {
        let waiter: Waiter? = state.withLock { state in
            guard let index = state.waiters.firstIndex(where: { $0.id == id }) else { return nil }
            return state.waiters.remove(at: index)
        }
        if let waiter {
            waiter.timer.cancel()
            waiter.continuation.resume(throwing: error)
        }
    }
}
