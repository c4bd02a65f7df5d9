import Foundation
import Synchronization

/// Releases every waiting task at once when the `parties`-th task arrives (a one-shot barrier).
final class Barrier: Sendable {
    private struct State {
        var arrived = 0
        var waiting: [CheckedContinuation<Void, Never>] = []
        var releasedAt: ContinuousClock.Instant?
    }

    private let parties: Int
    private let state = Mutex(State())

    init(parties: Int) { self.parties = parties }

    /// Waits until `parties` tasks have arrived.
    func arriveAndWait() async {
        await withCheckedContinuation { continuation in
            let release: [CheckedContinuation<Void, Never>] = state.withLock { state in
                state.arrived += 1
                state.waiting.append(continuation)
                guard state.arrived == parties else { return [] }
                state.releasedAt = ContinuousClock.now
                defer { state.waiting = [] }
                return state.waiting
            }
            for waiter in release { waiter.resume() }
        }
    }

    /// When the last party arrived.
    var releasedAt: ContinuousClock.Instant? { state.withLock { $0.releasedAt } }
}

/// Hands out the indices `0..<count` to any number of workers, each exactly once.
final class WorkQueue: Sendable {
    private let next = Atomic<Int>(0)
    let count: Int

    init(count: Int) { self.count = count }

    func take() -> Int? {
        let index = next.wrappingAdd(1, ordering: .relaxed).oldValue
        return index < count ? index : nil
    }
}

enum Workers {
    /// Runs `tasks` tasks, each calling `operation(taskIndex)` in a loop until `duration` has passed (checked every
    /// `batch` calls, after which the task also yields so that more tasks than threads interleave).
    ///
    /// - Returns: The total number of calls and the wall time from start to the last task's end.
    static func timed(
        tasks: Int, duration: Duration, batch: Int = 16,
        _ operation: @escaping @Sendable (Int) async throws -> Void
    ) async throws -> Throughput {
        let cpu = CPUTime.now()
        let start = ContinuousClock.now
        let deadline = start + duration
        let total = try await withThrowingTaskGroup(of: Int.self) { group in
            for task in 0..<tasks {
                group.addTask {
                    var count = 0
                    while ContinuousClock.now < deadline {
                        for _ in 0..<batch { try await operation(task) }
                        count += batch
                        await Task.yield()
                    }
                    return count
                }
            }
            return try await group.reduce(0, +)
        }
        return Throughput(operations: total, elapsed: ContinuousClock.now - start, cpuSeconds: CPUTime.now() - cpu)
    }

    /// Runs `count` items through `concurrency` workers; returns the wall time and each item's latency.
    static func pool(
        count: Int, concurrency: Int, _ operation: @escaping @Sendable (Int) async throws -> Void
    ) async throws -> (Throughput, [Int64]) {
        let queue = WorkQueue(count: count)
        let start = ContinuousClock.now
        let latencies = try await withThrowingTaskGroup(of: [Int64].self) { group in
            for _ in 0..<min(concurrency, max(count, 1)) {
                group.addTask {
                    var samples: [Int64] = []
                    while let index = queue.take() {
                        let begin = ContinuousClock.now
                        try await operation(index)
                        samples.append((ContinuousClock.now - begin).nanoseconds)
                    }
                    return samples
                }
            }
            return try await group.reduce(into: [Int64]()) { $0 += $1 }
        }
        return (Throughput(operations: count, elapsed: ContinuousClock.now - start), latencies)
    }
}

/// Runs blocking work on a dedicated thread (never on the cooperative pool) and awaits its result.
func onDedicatedThread<T: Sendable>(name: String, _ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread {
            continuation.resume(with: Result { try body() })
        }
        thread.name = String(name.prefix(15))
        thread.start()
    }
}
