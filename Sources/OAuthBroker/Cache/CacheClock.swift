import Foundation

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
