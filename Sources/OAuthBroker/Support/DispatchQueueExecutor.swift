import Dispatch

/// A serial executor that runs every job on one private serial `DispatchQueue`.
///
/// An actor whose `unownedExecutor` is one of these runs its methods on a Dispatch worker thread, never on
/// Swift's cooperative pool, so it may make blocking calls (file locks, `fsync`, `sqlite3_step` waiting on a
/// busy timeout, a Redis round trip) without starving other tasks. Actor isolation then is the confinement of
/// the blocking resource. Linux's libdispatch has no `DispatchSerialQueue`, hence this type.
///
/// Design operations as one hop per logical operation: a hop costs tens of microseconds.
package final class DispatchQueueExecutor: SerialExecutor, @unchecked Sendable {
    // @unchecked Sendable: the only stored property is an immutable DispatchQueue, which is thread-safe.
    private let queue: DispatchQueue

    /// Creates an executor over a new serial queue.
    /// - Parameter label: The queue label, visible in debuggers.
    package init(label: String) {
        queue = DispatchQueue(label: label)
    }

    /// Schedules `job` on the queue.
    package func enqueue(_ job: consuming ExecutorJob) {
        let unownedJob = UnownedJob(job)
        let executor = asUnownedSerialExecutor()
        queue.async { unownedJob.runSynchronously(on: executor) }
    }

    /// This executor, unowned.
    package func asUnownedSerialExecutor() -> UnownedSerialExecutor {
        UnownedSerialExecutor(ordinary: self)
    }
}
