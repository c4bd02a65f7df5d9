import Foundation
import Synchronization

enum ThreadLoop {
    /// Runs `body(threadIndex, deadline)` on `threads` new OS threads and waits for all of them; each returns how
    /// many operations it did. Blocks the calling thread: call it from a dedicated thread, never from a task.
    static func run(
        threads: Int, duration: Duration, _ body: @escaping @Sendable (Int, ContinuousClock.Instant) throws -> Int
    ) throws -> Throughput {
        let results = Mutex<[Result<Int, any Error>]>([])
        let done = DispatchSemaphore(value: 0)
        let cpu = CPUTime.now()
        let start = ContinuousClock.now
        let deadline = start + duration
        for index in 0..<threads {
            let thread = Thread {
                let result = Result { try body(index, deadline) }
                results.withLock { $0.append(result) }
                done.signal()
            }
            thread.name = "baseline-\(index)"
            thread.start()
        }
        for _ in 0..<threads { done.wait() }
        let elapsed = ContinuousClock.now - start
        var total = 0
        for result in results.withLock({ $0 }) { total += try result.get() }
        return Throughput(operations: total, elapsed: elapsed, cpuSeconds: CPUTime.now() - cpu)
    }
}
