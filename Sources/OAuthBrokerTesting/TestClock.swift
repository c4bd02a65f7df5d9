public import Foundation
public import OAuthBroker
import Synchronization

/// A manual wall clock for tests: time moves only when ``advance(by:)`` is called or the broker sleeps.
///
/// Use ``brokerClock`` in ``BrokerConfiguration/clock``. Sleeping through it returns at once and advances the
/// clock by the requested duration, so retries, backoff and lease waits run instantly and deterministically, and
/// ``sleeps`` records what was asked for (to assert that a `Retry-After` was honoured).
public final class TestClock: Sendable {
    private struct State {
        var now: Date
        var sleeps: [Duration] = []
    }

    private let state: Mutex<State>

    /// Creates a clock at `start` (by default 2027-01-15T08:00:00Z).
    public init(start: Date = Date(timeIntervalSince1970: 1_800_000_000)) {
        state = Mutex(State(now: start))
    }

    /// The current time.
    public var now: Date { state.withLock { $0.now } }

    /// Every duration slept through ``brokerClock``, in order.
    public var sleeps: [Duration] { state.withLock { $0.sleeps } }

    /// Moves time forward.
    public func advance(by duration: Duration) {
        state.withLock { $0.now = $0.now.addingTimeInterval(duration.timeInterval) }
    }

    /// A ``BrokerClock`` reading this clock; its sleep records the duration, advances the clock, and yields.
    public var brokerClock: BrokerClock {
        BrokerClock(
            now: { self.now },
            sleep: { duration in
                try Task.checkCancellation()
                self.state.withLock { state in
                    state.sleeps.append(duration)
                    state.now = state.now.addingTimeInterval(duration.timeInterval)
                }
                await Task.yield()
            })
    }
}
