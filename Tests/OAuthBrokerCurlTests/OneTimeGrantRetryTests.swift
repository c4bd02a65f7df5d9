import Foundation
import OAuthBroker
import OAuthBrokerCurl
import OAuthBrokerTesting
import Testing

/// The retry rule for one-time grants, through `CurlTransport` against `MockAuthorizationServer` (which rotates
/// refresh tokens and revokes the whole family when a rotated one is presented again): a `refresh_token` grant is
/// sent again only when the provider provably did not process it; a repeatable grant is retried on any transient
/// failure.
@Suite("One-time grants over curl: retried only when provably unprocessed", .timeLimit(.minutes(2)))
struct OneTimeGrantRetryTests {
    /// Answers sent after the provider processed the request: the refresh token rotated, the answer never came.
    static let answersAfterProcessing: [MockAuthorizationServer.Fault] = [
        .badGatewayAfterProcessing, .gatewayTimeoutAfterProcessing, .respondAfterProcessing(status: 500),
    ]

    @Test(
        "a refresh answered by a gateway after the provider rotated is not sent again; the store is unchanged",
        arguments: answersAfterProcessing)
    func refreshNotRetriedAfterProcessing(fault: MockAuthorizationServer.Fault) async throws {
        let clock = TestClock()
        try await EndToEndTests.withHarness(clock: clock) { h in
            let key = EndToEndTests.key("gateway")
            let (grant, seeded) = try await h.seedExpiredGrant(for: key, now: clock.now)
            h.server.enqueue(fault)

            let error = await thrownError { _ = try await h.broker.accessToken(for: key) }
            #expect((error as? BrokerError) == .providerUnavailable, "\(fault) gave \(String(describing: error))")
            #expect(h.server.statistics.requests(grant: .refreshToken) == 1)
            #expect(clock.sleeps.isEmpty, "a retry was scheduled: \(clock.sleeps)")
            // The provider did rotate: the live refresh token is one the broker never saw.
            #expect(h.server.statistics.refreshGrantsSucceeded == 1)
            #expect(h.server.activeRefreshToken(inFamilyOf: grant.refreshToken) != grant.refreshToken)
            #expect(try await h.store.record(for: key) == seeded)
            // The retired token was not presented again, so reuse detection did not kill the grant.
            #expect(h.server.statistics.refreshTokenReuses == 0)
            #expect(h.server.statistics.familiesRevokedByReuseDetection == 0)
            #expect(h.server.isFamilyActive(of: grant.refreshToken))
        }
    }

    @Test("a refresh whose answer comes after the request timeout is not sent again")
    func refreshNotRetriedAfterTimeout() async throws {
        let clock = TestClock()
        try await EndToEndTests.withHarness(clock: clock, { $0.requestTimeout = .seconds(1) }) { h in
            let key = EndToEndTests.key("timeout")
            let (grant, seeded) = try await h.seedExpiredGrant(for: key, now: clock.now)
            // Processed at once (the refresh token rotates), the body held back past the request timeout.
            h.server.enqueue(.slowBody(delay: .seconds(5)))

            let error = await thrownError { _ = try await h.broker.accessToken(for: key) }
            #expect((error as? BrokerError) == .timedOut, "gave \(String(describing: error))")
            #expect(h.server.statistics.requests(grant: .refreshToken) == 1)
            #expect(h.server.statistics.refreshGrantsSucceeded == 1)
            #expect(clock.sleeps.isEmpty, "a retry was scheduled: \(clock.sleeps)")
            #expect(try await h.store.record(for: key) == seeded)
            #expect(h.server.statistics.refreshTokenReuses == 0)
            #expect(h.server.isFamilyActive(of: grant.refreshToken))
        }
    }

    @Test(
        "client credentials answered by the same gateway errors are retried and succeed",
        arguments: answersAfterProcessing)
    func clientCredentialsRetried(fault: MockAuthorizationServer.Fault) async throws {
        let clock = TestClock()
        try await EndToEndTests.withHarness(clock: clock) { h in
            let key = EndToEndTests.key("repeatable")
            h.server.enqueue(fault)

            let token = try await h.broker.accessToken(for: key)
            #expect(h.server.statistics.requests(grant: .clientCredentials) == 2)
            #expect(h.server.statistics.faultsInjected == 1)
            #expect(clock.sleeps.count == 1, "one backoff before the retry: \(clock.sleeps)")
            #expect(h.server.isActive(accessToken: token.value))
            #expect(try await h.store.record(for: key)?.accessToken == token.value)
        }
    }

    @Test("a refresh answered 503 with Retry-After, unprocessed, is sent again after the delay; the grant lives on")
    func refreshRetriedAfterServiceUnavailable() async throws {
        let clock = TestClock()
        try await EndToEndTests.withHarness(clock: clock) { h in
            let key = EndToEndTests.key("unavailable")
            let (grant, _) = try await h.seedExpiredGrant(for: key, now: clock.now)
            h.server.enqueue(.serviceUnavailable(retryAfter: .seconds(1)))

            let token = try await h.broker.accessToken(for: key)
            #expect(h.server.statistics.requests(grant: .refreshToken) == 2)
            #expect(h.server.statistics.refreshGrantsSucceeded == 1)
            #expect(clock.sleeps == [.seconds(1)])
            let stored = try #require(try await h.store.record(for: key))
            #expect(stored.accessToken == token.value)
            #expect(h.server.isActive(accessToken: token.value))
            let rotated = try #require(stored.refreshToken)
            #expect(rotated != grant.refreshToken)
            #expect(rotated == h.server.activeRefreshToken(inFamilyOf: grant.refreshToken))
            #expect(h.server.statistics.refreshTokenReuses == 0)
            #expect(h.server.statistics.familiesRevokedByReuseDetection == 0)
            #expect(h.server.isFamilyActive(of: grant.refreshToken))
        }
    }
}
