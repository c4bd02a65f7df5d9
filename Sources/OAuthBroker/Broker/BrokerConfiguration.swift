public import CoreMetrics
public import Tracing

/// How a ``Broker`` behaves: freshness, retries, deadlines, leases, session lifetime, events.
///
/// A `Sendable` struct of settings with defaults; related settings are grouped (``Retry``). Invalid values are
/// rejected by ``validate()``, which the broker calls when it is created.
public struct BrokerConfiguration: Sendable {
    /// What a caller gets while a token is stale (inside its refresh leeway) but not yet expired.
    public struct StaleTokenBehavior: Hashable, Sendable, CustomStringConvertible {
        fileprivate enum Value: Hashable, Sendable { case serveWhileRefreshing, waitForRefresh }
        fileprivate let value: Value

        /// Serve the still-valid token at once and refresh it in the background (one refresh per key).
        /// Callers block only once the token has really expired. The default.
        public static let serveWhileRefreshing = StaleTokenBehavior(value: .serveWhileRefreshing)
        /// Block on the refresh as soon as the token is stale.
        public static let waitForRefresh = StaleTokenBehavior(value: .waitForRefresh)

        /// The behaviour's name.
        public var description: String {
            value == .serveWhileRefreshing ? "serveWhileRefreshing" : "waitForRefresh"
        }
    }

    /// Retries of transient failures (5xx, 429, network), with exponential backoff and jitter.
    public struct Retry: Sendable, Hashable {
        /// Attempts per token request, including the first. Default 3.
        public var maxAttempts: Int = 3
        /// The first backoff; each retry doubles it, with random jitter in [½, 1] of the value. Default 250 ms.
        public var initialBackoff: Duration = .milliseconds(250)
        /// The largest backoff. Default 8 s.
        public var maximumBackoff: Duration = .seconds(8)
        /// The longest `Retry-After` the broker waits for; a longer one fails at once with the hint attached.
        /// Default 30 s.
        public var maximumRetryAfter: Duration = .seconds(30)

        /// Creates the default retry settings.
        public init() {}
    }

    /// Freshness rules. Default ``RefreshPolicy/standard``.
    public var refreshPolicy: RefreshPolicy = .standard
    /// What stale tokens do. Default ``StaleTokenBehavior/serveWhileRefreshing``.
    public var staleTokenBehavior: StaleTokenBehavior = .serveWhileRefreshing
    /// Retry settings.
    public var retry = Retry()
    /// The time one HTTP attempt may take. Default 10 s.
    public var requestTimeout: Duration = .seconds(10)
    /// The time one flow may take in all, retries and lease waits included; callers waiting on a shared refresh
    /// stop waiting after it. Default 30 s.
    public var totalTimeout: Duration = .seconds(30)
    /// How long a cross-process refresh lease lives if its holder dies. Default 10 s.
    ///
    /// The holder renews the lease every third of this while it works (the request in flight, each retry, the
    /// store write), so a value shorter than a slow provider's response is safe; it only bounds how long other
    /// processes wait after a holder crashed. Waiters keep waiting for the lease for at least twice this, even when
    /// ``totalTimeout`` is shorter, so a crashed holder is always taken over. At least 100 ms.
    public var leaseTimeToLive: Duration = .seconds(10)
    /// How long the broker keeps trying to store a token it already holds (a rotated refresh token, a redeemed
    /// code) when the store fails with a transient error: busy, locked, timed out, unreachable. Default 30 s.
    ///
    /// Separate from ``totalTimeout``, which bounds the HTTP side: a token the provider has issued is worth more
    /// than the caller's deadline. Waiting for another connection's lock counts against this budget. While the
    /// write is retried, this process keeps serving the new token from memory; if the budget runs out, the token
    /// stays in memory and is written before the key's next token request.
    public var storeWriteTimeout: Duration = .seconds(30)
    /// The least time that must be left before a one-time grant (`refresh_token`, `authorization_code`) is sent;
    /// `nil` (the default) means ``requestTimeout``.
    ///
    /// A one-time grant sent with too little time left can be processed by the provider after the client gave up,
    /// which rotates the refresh token (or spends the code) while the client never sees the new one. With less
    /// time left the broker fails with ``BrokerError/Code/deadlineExceeded`` without sending.
    public var minimumTimeForOneTimeGrants: Duration?
    /// How often a token served from this process's memory is checked against the store (its version and
    /// status), so that a revocation or a needs-reauthorization mark written by another process stops this one
    /// from serving the token. Default 10 s; `nil` never checks (a single process, or a store nobody else writes).
    ///
    /// The check runs in the background while the cached token keeps being served, so it adds nothing to a cache
    /// hit: after another process revokes a record, this process stops serving it within this interval plus one
    /// store read.
    public var revalidationInterval: Duration? = .seconds(10)
    /// How long an authorization session waits for its callback. Default 10 minutes.
    public var authorizationSessionLifetime: Duration = .seconds(600)
    /// The clock. Default ``BrokerClock/system``.
    public var clock: BrokerClock = .system
    /// Where metrics go; `nil` (the default) uses the factory bootstrapped in `MetricsSystem` when the broker
    /// is created (a no-op unless the application bootstrapped one). Metric names are listed in DESIGN.md.
    public var metricsFactory: (any MetricsFactory)?
    /// Where spans go; `nil` (the default) uses `InstrumentationSystem.tracer` (a no-op unless bootstrapped).
    public var tracer: (any Tracer)?
    /// Called with every ``BrokerEvent``, synchronously on the task that caused it; keep it short.
    public var onEvent: (@Sendable (BrokerEvent) -> Void)?

    /// Creates the default configuration.
    public init() {}

    /// Checks every value.
    /// - Throws: ``BrokerError`` (``BrokerError/Code/invalidConfiguration``) naming the first bad setting.
    public func validate() throws {
        func require(_ condition: Bool, _ message: String) throws {
            if !condition { throw BrokerError(.invalidConfiguration, message) }
        }
        try require(retry.maxAttempts >= 1 && retry.maxAttempts <= 20, "retry.maxAttempts must be 1...20")
        try require(retry.initialBackoff >= .zero, "retry.initialBackoff must not be negative")
        try require(retry.maximumBackoff >= retry.initialBackoff, "retry.maximumBackoff must be ≥ initialBackoff")
        try require(retry.maximumRetryAfter >= .zero, "retry.maximumRetryAfter must not be negative")
        try require(requestTimeout > .zero, "requestTimeout must be positive")
        try require(totalTimeout >= requestTimeout, "totalTimeout must be ≥ requestTimeout")
        try require(leaseTimeToLive >= .milliseconds(100), "leaseTimeToLive must be at least 100 ms")
        try require(storeWriteTimeout > .zero, "storeWriteTimeout must be positive")
        if let minimum = minimumTimeForOneTimeGrants {
            try require(minimum > .zero, "minimumTimeForOneTimeGrants must be positive")
            try require(minimum <= totalTimeout, "minimumTimeForOneTimeGrants must be ≤ totalTimeout")
        }
        if let interval = revalidationInterval {
            try require(interval > .zero, "revalidationInterval must be positive")
        }
        try refreshPolicy.validate()
        try require(authorizationSessionLifetime > .zero, "authorizationSessionLifetime must be positive")
    }
}
