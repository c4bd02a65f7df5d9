public import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// The wall clock and the sleeper the broker uses for expiry, backoff and lease waits.
///
/// Inject `OAuthBrokerTesting.TestClock` to make expiry and retries deterministic.
public struct BrokerClock: Sendable {
    private var readNow: @Sendable () -> Date

    /// Returns the current wall-clock time.
    public var now: @Sendable () -> Date {
        get { readNow }
        set {
            readNow = newValue
            readsSystemTime = false
        }
    }

    /// Suspends the calling task for a duration; throws `CancellationError` when the task is cancelled.
    public var sleep: @Sendable (Duration) async throws -> Void

    /// Whether ``now`` is the system wall clock, which the token cache may then read in a cheaper form
    /// (``CacheClock``). Replacing ``now`` clears it.
    private(set) var readsSystemTime = false

    /// Creates a clock from two closures.
    public init(now: @escaping @Sendable () -> Date, sleep: @escaping @Sendable (Duration) async throws -> Void) {
        self.readNow = now
        self.sleep = sleep
    }

    /// The system clock with `Task.sleep`.
    public static let system: BrokerClock = {
        var clock = BrokerClock(now: { Date() }, sleep: { try await Task.sleep(for: $0) })
        clock.readsSystemTime = true
        return clock
    }()
}
