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

/// The time source of the token cache's hit path.
///
/// With the system clock it reads `CLOCK_REALTIME_COARSE` (about 5 ns through the vDSO, against about 25 ns for
/// `Date()`) and adds the clock's resolution (typically 1–4 ms), so the reading is never earlier than the true
/// time: a token is at worst treated as stale a few milliseconds early, never served late. With an injected clock
/// (such as `TestClock`) it calls that clock, so tests keep full control.
struct CacheClock: Sendable {
    private let injected: (@Sendable () -> Date)?
    private let slack: Double

    init(_ clock: BrokerClock) {
        #if os(Linux) || os(Android)
            if clock.readsSystemTime {
                var resolution = timespec()
                if clock_getres(CLOCK_REALTIME_COARSE, &resolution) == 0, resolution.tv_sec == 0 {
                    injected = nil
                    // The coarse clock lags the precise one by less than one tick; one tick plus a millisecond of
                    // margin makes the reading an upper bound.
                    slack = Double(resolution.tv_nsec) / 1e9 + 0.001
                    return
                }
            }
        #endif
        injected = clock.now
        slack = 0
    }

    /// The current time, never earlier than the true wall-clock time.
    @inline(__always)
    func now() -> Date {
        if let injected { return injected() }
        return Date(timeIntervalSinceReferenceDate: Self.coarseSecondsSinceReferenceDate() + slack)
    }

    @inline(__always)
    private static func coarseSecondsSinceReferenceDate() -> Double {
        #if os(Linux) || os(Android)
            var now = timespec()
            clock_gettime(CLOCK_REALTIME_COARSE, &now)
            return Double(now.tv_sec - 978_307_200) + Double(now.tv_nsec) * 1e-9
        #else
            return Date().timeIntervalSinceReferenceDate
        #endif
    }
}
