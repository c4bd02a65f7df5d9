import Foundation
import OAuthBroker
import OAuthBrokerTesting
import Testing

/// What `completeAuthorization` checks before any token request: RFC 9207 `iss`, the redirect URI the callback
/// arrived on, and the provider the session belongs to; and which refusals keep the session usable.
@Suite struct AuthorizationResponseCheckTests {
    static let issuer = "https://idp.example.com"
    static let redirect = AuthorizationCodeFlowTests.redirect

    static func provider(
        id: String = "acme", issuer: String? = Self.issuer, requiresIssuer: Bool = false
    ) throws -> ProviderDescriptor {
        try ProviderDescriptor(
            id: try ProviderID(id), tokenEndpoint: URL(string: "https://idp.example.com/oauth/token")!,
            clientID: "client-1", clientSecret: Secret("s3cr3t-client"), grants: [.authorizationCode, .refreshToken],
            authorizationEndpoint: URL(string: "https://idp.example.com/oauth/authorize")!, issuer: issuer,
            requiresAuthorizationResponseIssuer: requiresIssuer)
    }

    /// A callback URL on `base` with `code`, `state` and the extra query `extra` (already encoded).
    static func callback(_ base: String = Self.redirect, state: String, extra: String = "") -> URL {
        let separator = base.contains("?") ? "&" : "?"
        return URL(string: "\(base)\(separator)code=code-1&state=\(FormEncoding.encode(state))\(extra)")!
    }

    /// A broker over `store` for `provider`, a started authorization, and its state.
    static func start(
        provider: ProviderDescriptor, store: MemoryStore, transport: FakeTransport, redirect: String = Self.redirect
    ) async throws -> (broker: Broker<FakeTransport, PassthroughErrorMapper>, state: String) {
        let broker = Fixtures.broker(provider: provider, store: store, transport: transport)
        let key = try StoreKey(provider: provider.id.rawValue, tenant: "tenant-a", principal: "user-1")
        let request = try await broker.startAuthorization(for: key, redirectURI: redirect)
        return (broker, try #require(AuthorizationCodeFlowTests.query(of: request.url)["state"]))
    }

    @Test("an iss other than the provider's issuer is refused before any token request; the session stays usable")
    func issuerMismatchKeepsTheSession() async throws {
        let store = MemoryStore()
        let transport = FakeTransport()
        let (broker, state) = try await Self.start(provider: try Self.provider(), store: store, transport: transport)
        for wrong in ["https://evil.example.com", "https://idp.example.com/", "HTTPS://IDP.EXAMPLE.COM", ""] {
            let error = try await #require(throws: BrokerError.self) {
                try await broker.completeAuthorization(
                    callbackURL: Self.callback(state: state, extra: "&iss=\(FormEncoding.encode(wrong))"))
            }
            #expect(error.code == .authorizationDenied)
            #expect(error.message.contains("RFC 9207"))
        }
        await #expect(throws: BrokerError.authorizationDenied) {
            try await broker.completeAuthorization(code: "code-1", state: state, issuer: "https://evil.example.com")
        }
        // An error response from the wrong issuer is refused the same way, before the session is consumed.
        await #expect(throws: BrokerError.authorizationDenied) {
            try await broker.completeAuthorization(
                callbackURL: URL(string: "\(Self.redirect)?error=access_denied&state=\(state)&iss=https%3A%2F%2Fx")!)
        }
        #expect(transport.requestCount == 0)
        let token = try await broker.completeAuthorization(
            callbackURL: Self.callback(state: state, extra: "&iss=\(FormEncoding.encode(Self.issuer))"))
        #expect(token.value == Secret("at-1"))
        #expect(transport.requestCount == 1)
    }

    @Test("a missing iss is refused when the provider always sends it, and accepted otherwise")
    func missingIssuer() async throws {
        let store = MemoryStore()
        let transport = FakeTransport()
        let strict = try Self.provider(requiresIssuer: true)
        let (broker, state) = try await Self.start(provider: strict, store: store, transport: transport)
        await #expect(throws: BrokerError.authorizationDenied) {
            try await broker.completeAuthorization(callbackURL: Self.callback(state: state))
        }
        await #expect(throws: BrokerError.authorizationDenied) {
            try await broker.completeAuthorization(code: "code-1", state: state)
        }
        #expect(transport.requestCount == 0)
        _ = try await broker.completeAuthorization(code: "code-1", state: state, issuer: Self.issuer)
        #expect(transport.requestCount == 1)

        for provider in [try Self.provider(), try Self.provider(issuer: nil)] {
            let lenient = try await Self.start(provider: provider, store: MemoryStore(), transport: transport)
            _ = try await lenient.broker.completeAuthorization(callbackURL: Self.callback(state: lenient.state))
        }
        #expect(transport.requestCount == 3)
        // Without a declared issuer, any iss is accepted: there is nothing to compare it with.
        let unchecked = try await Self.start(
            provider: try Self.provider(issuer: nil), store: MemoryStore(), transport: transport)
        _ = try await unchecked.broker.completeAuthorization(
            callbackURL: Self.callback(state: unchecked.state, extra: "&iss=https%3A%2F%2Fanything"))
        #expect(transport.requestCount == 4)
    }

    @Test("a callback on another redirect URI is refused before any token request and burns the session")
    func redirectMismatch() async throws {
        for wrong in [
            "https://evil.example.com/oauth/callback", "http://app.example.com/oauth/callback",
            "https://app.example.com:8443/oauth/callback", "https://app.example.com/oauth/callback/x",
            "https://app.example.com/oauth", "https://user@app.example.com/oauth/callback",
        ] {
            let store = MemoryStore()
            let transport = FakeTransport()
            let (broker, state) = try await Self.start(
                provider: try Self.provider(), store: store, transport: transport)
            let error = try await #require(throws: BrokerError.self) {
                try await broker.completeAuthorization(callbackURL: Self.callback(wrong, state: state))
            }
            #expect(error.code == .invalidAuthorizationState, "\(wrong)")
            #expect(error.message.contains("redirect URI"))
            await #expect(throws: BrokerError.invalidAuthorizationState) {
                try await broker.completeAuthorization(callbackURL: Self.callback(state: state))
            }
            #expect(transport.requestCount == 0)
        }
    }

    @Test("the redirect URI's host case, default port and its own query parameters are matched as URIs")
    func redirectEquivalents() async throws {
        let registered = "https://app.example.com/oauth/callback?tenant=a%20b"
        for (arrived, accepted) in [
            ("https://APP.example.com:443/oauth/callback?tenant=a+b", true),
            ("https://app.example.com/oauth/callback?tenant=a%20b", true),
            ("https://app.example.com/oauth/callback?tenant=c", false),
            ("https://app.example.com/oauth/callback", false),
        ] {
            let transport = FakeTransport()
            let (broker, state) = try await Self.start(
                provider: try Self.provider(), store: MemoryStore(), transport: transport, redirect: registered)
            if accepted {
                _ = try await broker.completeAuthorization(callbackURL: Self.callback(arrived, state: state))
                #expect(transport.requestCount == 1, "\(arrived)")
            } else {
                await #expect(throws: BrokerError.invalidAuthorizationState, "\(arrived)") {
                    try await broker.completeAuthorization(callbackURL: Self.callback(arrived, state: state))
                }
                #expect(transport.requestCount == 0)
            }
        }
    }

    @Test("a callback handed to another provider's broker is refused and leaves the session usable")
    func otherProviderKeepsTheSession() async throws {
        let store = MemoryStore()
        let transport = FakeTransport()
        let (broker, state) = try await Self.start(provider: try Self.provider(), store: store, transport: transport)
        let other = Fixtures.broker(provider: try Self.provider(id: "other"), store: store, transport: transport)
        await #expect(throws: BrokerError.invalidAuthorizationState) {
            try await other.completeAuthorization(callbackURL: Self.callback(state: state))
        }
        await #expect(throws: BrokerError.invalidAuthorizationState) {
            try await other.completeAuthorization(code: "code-1", state: state)
        }
        #expect(transport.requestCount == 0)
        let token = try await broker.completeAuthorization(callbackURL: Self.callback(state: state))
        #expect(token.key.provider == (try ProviderID("acme")))
        #expect(transport.requestCount == 1)
    }

    @Test("a repeated state, code or iss is refused before the session is touched")
    func repeatedParameters() async throws {
        let store = MemoryStore()
        let transport = FakeTransport()
        let (broker, state) = try await Self.start(provider: try Self.provider(), store: store, transport: transport)
        let issuer = FormEncoding.encode(Self.issuer)
        for extra in ["&state=\(state)", "&code=code-2", "&iss=\(issuer)&iss=https%3A%2F%2Fevil"] {
            await #expect(throws: BrokerError.invalidInput) {
                try await broker.completeAuthorization(callbackURL: Self.callback(state: state, extra: extra))
            }
        }
        #expect(transport.requestCount == 0)
        _ = try await broker.completeAuthorization(callbackURL: Self.callback(state: state, extra: "&iss=\(issuer)"))
    }

    @Test("an issuer must be an https URL without query or fragment; requiring iss needs an issuer")
    func issuerValidation() throws {
        for bad in ["not a url", "http://idp.example.com", "https://idp.example.com?x=1", "https://idp.example.com#f"] {
            #expect(throws: BrokerError.invalidConfiguration, "\(bad)") { try Self.provider(issuer: bad) }
        }
        #expect(throws: BrokerError.invalidConfiguration) { try Self.provider(issuer: nil, requiresIssuer: true) }
        #expect(try Self.provider(issuer: "https://idp.example.com/tenant/v2.0").issuer != nil)
    }
}
