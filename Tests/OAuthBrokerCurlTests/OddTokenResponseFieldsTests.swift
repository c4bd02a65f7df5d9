import Foundation
import OAuthBroker
import OAuthBrokerCurl
import OAuthBrokerTesting
import Testing

/// A 200 refresh response that carries a usable access token and the rotated refresh token, next to a minor field
/// the broker cannot take as it is. The provider has already retired the old refresh token, so refusing the whole
/// response would lose the grant: the next refresh would present the retired token and reuse detection would
/// revoke the family. Through `CurlTransport` against `MockAuthorizationServer`.
@Suite("A 200 refresh response with odd minor fields is stored", .timeLimit(.minutes(2)))
struct OddTokenResponseFieldsTests {
    static let oddFields: [(String, [String: MockAuthorizationServer.JSONLiteral?])] = [
        ("expires_in 0", ["expires_in": 0]),
        ("expires_in 1e12", ["expires_in": .raw("1e12")]),
        ("scope outside the RFC 6749 grammar", ["scope": "a\"b"]),
        ("id_token a number", ["id_token": 42]),
    ]

    @Test("the rotated refresh token is stored, and the next refresh uses it", arguments: oddFields)
    func rotatedTokenStored(label: String, changes: [String: MockAuthorizationServer.JSONLiteral?]) async throws {
        try await EndToEndTests.withHarness { h in
            let key = EndToEndTests.key("odd")
            let (grant, _) = try await h.seedExpiredGrant(for: key)
            h.server.enqueue(.alteringResponseFields(changes))

            let token = try await h.broker.refresh(key, force: true)
            #expect(h.server.statistics.refreshGrantsSucceeded == 1)
            let stored = try #require(try await h.store.record(for: key))
            #expect(stored.status == .active)
            #expect(stored.accessToken == token.value)
            #expect(h.server.isActive(accessToken: stored.accessToken))
            #expect(stored.refreshToken != grant.refreshToken, "\(label): the rotated refresh token was not stored")
            #expect(stored.refreshToken == h.server.activeRefreshToken(inFamilyOf: grant.refreshToken))

            // The next forced refresh presents what was stored: accepted, and the grant lives on.
            _ = try await h.broker.refresh(key, force: true)
            #expect(h.server.statistics.requests(grant: .refreshToken) == 2)
            #expect(h.server.statistics.refreshGrantsSucceeded == 2)
            #expect(h.server.statistics.refreshTokenReuses == 0)
            #expect(h.server.statistics.familiesRevokedByReuseDetection == 0)
            #expect(h.server.isFamilyActive(of: grant.refreshToken))
            let next = try #require(try await h.store.record(for: key))
            #expect(next.refreshToken == h.server.activeRefreshToken(inFamilyOf: grant.refreshToken))
        }
    }
}
