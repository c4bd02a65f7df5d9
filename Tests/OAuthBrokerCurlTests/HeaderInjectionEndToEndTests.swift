import Foundation
import OAuthBroker
import OAuthBrokerCurl
import OAuthBrokerTesting
import Testing

/// A 200 token response whose `access_token` or `token_type` would inject into the application's `Authorization`
/// header, through `CurlTransport` against `MockAuthorizationServer`: refused, and nothing is stored.
@Suite("A token response that would inject a header is refused", .timeLimit(.minutes(2)))
struct HeaderInjectionEndToEndTests {
    static let hostile: [(String, [String: MockAuthorizationServer.JSONLiteral?])] = [
        ("access_token with CR LF", ["access_token": "at\r\nX-Injected: 1"]),
        ("access_token with a space", ["access_token": "at X-Injected"]),
        ("token_type with CR LF", ["token_type": "Bearer\r\nX-Injected: 1"]),
        ("token_type with a NUL", ["token_type": "Bearer\u{0}"]),
    ]

    @Test("client credentials: malformedResponse, nothing stored", arguments: hostile)
    func clientCredentials(label: String, changes: [String: MockAuthorizationServer.JSONLiteral?]) async throws {
        try await EndToEndTests.withHarness { h in
            let key = EndToEndTests.key("inject-cc")
            h.server.enqueue(.alteringResponseFields(changes))
            let error = try await #require(throws: BrokerError.self, "\(label)") {
                try await h.broker.accessToken(for: key)
            }
            #expect(error.code == .malformedResponse, "\(label)")
            #expect(!error.description.contains("X-Injected"), "\(label)")
            #expect(try await h.store.record(for: key) == nil, "\(label)")
        }
    }

    @Test("refresh: malformedResponse, the stored record is left as it was", arguments: hostile)
    func refresh(label: String, changes: [String: MockAuthorizationServer.JSONLiteral?]) async throws {
        try await EndToEndTests.withHarness { h in
            let key = EndToEndTests.key("inject-refresh")
            let (_, seeded) = try await h.seedExpiredGrant(for: key)
            h.server.enqueue(.alteringResponseFields(changes))
            await #expect(throws: BrokerError.malformedResponse, "\(label)") {
                try await h.broker.refresh(key, force: true)
            }
            #expect(try await h.store.record(for: key) == seeded, "\(label)")
        }
    }
}

/// RFC 9207 end to end: the mock server sends `iss`; a provider that declares another issuer refuses the callback
/// before any token request, and one that declares the server's issuer completes it.
@Suite("RFC 9207 iss against MockAuthorizationServer", .timeLimit(.minutes(2)))
struct AuthorizationResponseIssuerEndToEndTests {
    @Test("a mismatching issuer is refused before the token endpoint is called; the matching one completes")
    func issuerChecked() async throws {
        var configuration = MockAuthorizationServer.Configuration()
        configuration.authorizationResponseIssuer = "https://mock.example"
        try await EndToEndTests.withHarness(server: configuration) { h in
            let key = EndToEndTests.key("iss")
            func broker(issuer: String) throws -> Broker<CurlTransport, CurlErrorMapper> {
                let p = h.provider
                let provider = try ProviderDescriptor(
                    id: p.id, tokenEndpoint: p.tokenEndpoint, clientID: p.clientID, clientSecret: p.clientSecret,
                    clientAuthentication: p.clientAuthentication, grants: p.grants,
                    authorizationEndpoint: p.authorizationEndpoint, allowsInsecureLoopback: true, issuer: issuer,
                    requiresAuthorizationResponseIssuer: true)
                return try Broker(provider: provider, store: h.store)
            }
            let request = try await h.broker.startAuthorization(for: key, redirectURI: "http://127.0.0.1/callback")
            let callback = try await h.server.approve(authorizationURL: request.url)
            #expect(callback.query?.contains("iss=https%3A%2F%2Fmock.example") == true)
            await #expect(throws: BrokerError.authorizationDenied) {
                try await broker(issuer: "https://other.example").completeAuthorization(callbackURL: callback)
            }
            #expect(h.server.statistics.requests(to: .token) == 0)
            let token = try await broker(issuer: "https://mock.example").completeAuthorization(callbackURL: callback)
            #expect(h.server.isActive(accessToken: token.value))
            #expect(h.server.statistics.requests(to: .token) == 1)
        }
    }
}
