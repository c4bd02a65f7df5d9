public import Foundation

/// When a token counts as stale (refresh soon, still usable) rather than fresh.
///
/// A token issued at `i` and expiring at `e` has lifetime `L = e - i`. Its leeway is
///
///     min(L / 2, max(minimumLeeway, L × (1 - refreshRatio)) + jitter)
///
/// where `jitter` is drawn uniformly from `[0, maximumJitter)` once per record, so many keys issued together do
/// not all refresh in the same second. Jitter only ever makes a refresh *earlier*, and the leeway never exceeds
/// half the lifetime, so a 5-second token is fresh for at least 2.5 seconds. The token is fresh until
/// `e - leeway`, stale (still usable) until `e`, and expired from `e`.
public struct RefreshPolicy: Sendable, Hashable {
    /// The fraction of the lifetime after which a token is stale, in (0, 1]. Default 0.9.
    public var refreshRatio: Double
    /// The smallest leeway, whatever the ratio gives. Default 30 seconds.
    public var minimumLeeway: Duration
    /// The largest random extra leeway. Default 30 seconds.
    public var maximumJitter: Duration
    /// The lifetime assumed when a token response has no `expires_in`. Default one hour.
    ///
    /// RFC 6749 §5.1 only recommends `expires_in`; when it is absent the broker assumes this lifetime, stores the
    /// resulting `expiresAt`, and refreshes accordingly.
    public var defaultLifetime: Duration

    /// Validates and creates a policy.
    /// - Throws: ``BrokerError`` (``BrokerError/Code/invalidConfiguration``) when `refreshRatio` is outside
    ///   (0, 1], a duration is negative, or `defaultLifetime` is not positive.
    public init(
        refreshRatio: Double = 0.9, minimumLeeway: Duration = .seconds(30), maximumJitter: Duration = .seconds(30),
        defaultLifetime: Duration = .seconds(3600)
    ) throws {
        self.refreshRatio = refreshRatio
        self.minimumLeeway = minimumLeeway
        self.maximumJitter = maximumJitter
        self.defaultLifetime = defaultLifetime
        try validate()
    }

    /// Checks every value; the properties are `var`s, so a policy changed after it was made is checked again by
    /// ``BrokerConfiguration/validate()``.
    /// - Throws: ``BrokerError`` (``BrokerError/Code/invalidConfiguration``) when `refreshRatio` is outside
    ///   (0, 1] or not a number, a duration is negative, or `defaultLifetime` is not positive.
    public func validate() throws {
        guard refreshRatio > 0, refreshRatio <= 1, refreshRatio.isFinite else {
            throw BrokerError(.invalidConfiguration, "refreshPolicy.refreshRatio must be in (0, 1]")
        }
        guard minimumLeeway >= .zero, maximumJitter >= .zero else {
            throw BrokerError(.invalidConfiguration, "refreshPolicy leeway and jitter must not be negative")
        }
        guard defaultLifetime > .zero else {
            throw BrokerError(.invalidConfiguration, "refreshPolicy.defaultLifetime must be positive")
        }
    }

    /// The default policy: ratio 0.9, 30 s minimum leeway, up to 30 s jitter, one hour assumed lifetime.
    public static let standard = try! RefreshPolicy()

    /// The leeway for a token with `lifetime`, given a jitter fraction in [0, 1).
    public func leeway(forLifetime lifetime: Duration, jitterFraction: Double) -> Duration {
        guard lifetime > .zero else { return .zero }
        let proportional = Self.roundedToMilliseconds(lifetime * (1 - refreshRatio))
        let base = max(minimumLeeway, proportional)
        let jitter = Self.roundedToMilliseconds(maximumJitter * min(max(jitterFraction, 0), 1))
        return min(lifetime / 2, base + jitter)
    }

    private static func roundedToMilliseconds(_ duration: Duration) -> Duration {
        .milliseconds(Int64((duration.timeInterval * 1000).rounded()))
    }

    /// The instant `record` becomes stale, or `nil` when it never expires.
    /// - Parameter jitterFraction: A value in [0, 1); the broker draws one per record.
    public func staleInstant(of record: TokenRecord, jitterFraction: Double) -> Date? {
        guard let expiresAt = record.expiresAt else { return nil }
        let lifetime = Duration.milliseconds(Int64(max(0, expiresAt.timeIntervalSince(record.issuedAt)) * 1000))
        return expiresAt.addingTimeInterval(-leeway(forLifetime: lifetime, jitterFraction: jitterFraction).timeInterval)
    }
}
