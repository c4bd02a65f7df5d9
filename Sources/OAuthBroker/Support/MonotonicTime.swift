/// Monotonic nanoseconds for durations.
enum MonotonicTime {
    static func now() -> ContinuousClock.Instant { ContinuousClock.now }
    static func nanoseconds(since start: ContinuousClock.Instant) -> Int64 {
        let (seconds, attoseconds) = (ContinuousClock.now - start).components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
