public import Foundation

/// The wall clock and the sleeper the broker uses for expiry, backoff and lease waits.
///
/// Inject `OAuthBrokerTesting.TestClock` to make expiry and retries deterministic.
public struct BrokerClock: Sendable {
    /// Returns the current wall-clock time.
    public var now: @Sendable () -> Date
    /// Suspends the calling task for a duration; throws `CancellationError` when the task is cancelled.
    public var sleep: @Sendable (Duration) async throws -> Void

    /// Creates a clock from two closures.
    public init(now: @escaping @Sendable () -> Date, sleep: @escaping @Sendable (Duration) async throws -> Void) {
        self.now = now
        self.sleep = sleep
    }

    /// The system clock with `Task.sleep`.
    public static let system = BrokerClock(now: { Date() }, sleep: { try await Task.sleep(for: $0) })
}
