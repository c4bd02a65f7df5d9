import Foundation
import OAuthBroker
import OAuthBrokerTesting
import Testing

/// A token response whose `access_token` or `token_type` could break the `Authorization` header the application
/// builds from it is refused, and nothing of it is stored.
@Suite struct HeaderInjectionTests {
    static func body(accessToken: String, tokenType: String = "Bearer") throws -> Data {
        try JSONSerialization.data(
            withJSONObject: ["access_token": accessToken, "token_type": tokenType, "expires_in": 3600])
    }

    /// Access tokens that would inject into (or break) an `Authorization` header.
    static let hostileAccessTokens = [
        "abc\r\nX-Injected: 1", "abc\ndef", "abc\rdef", "abc def", "abc\tdef", "abc\u{0}def", "abc\u{7F}def",
        "t\u{1B}[31m", "tökén", "abc\u{2028}def", " leading", "trailing ",
    ]

    /// Token types outside the RFC 9110 token grammar.
    static let hostileTokenTypes = [
        "Bearer\r\nX-Injected: 1", "Bearer x", "Bear:er", "Bearer\u{0}", "(Bearer)", "Bearér", "Bearer,",
        "Bearer\"",
    ]

    @Test("an access_token with CR, LF, NUL, a space, another control or a non-ASCII character is malformed")
    func hostileAccessTokensRefused() throws {
        for token in Self.hostileAccessTokens {
            let error = try #require(throws: BrokerError.self) {
                try TokenResponse(parsing: try Self.body(accessToken: token))
            }
            #expect(error.code == .malformedResponse)
            #expect(error.message.contains("access_token"))
            #expect(!error.description.contains(token))
        }
    }

    @Test("a token_type that is not an RFC 9110 token is malformed, also when a strategy supplies it")
    func hostileTokenTypesRefused() throws {
        for type in Self.hostileTokenTypes {
            let error = try #require(throws: BrokerError.self) {
                try TokenResponse(parsing: try Self.body(accessToken: "ok", tokenType: type))
            }
            #expect(error.code == .malformedResponse)
            #expect(error.message.contains("token_type"))
        }
        let missingType = Data(#"{"access_token":"ok"}"#.utf8)
        #expect(throws: BrokerError.malformedResponse) {
            try TokenResponse(parsing: missingType, tokenTypeWhenMissing: "Bearer\r\nX: 1")
        }
        #expect(try TokenResponse(parsing: missingType, tokenTypeWhenMissing: "Bearer").tokenType == "Bearer")
    }

    @Test("visible ASCII access tokens (beyond RFC 6750 b64token) and tchar token types are accepted")
    func realWorldTokensAccepted() throws {
        for token in [
            "abc.def-ghi_jkl~mno+pqr/stu==", "00Dxx0000001gPL!AR8AQJXg5oj8jXSgxJfA0lBog.3v", "a:b%20c|d",
            "ya29.a0Af~\"quoted\"", "{json-ish}", "!#$&'()*,;<>?@[\\]^`",
        ] {
            let response = try TokenResponse(parsing: try Self.body(accessToken: token))
            #expect(response.accessToken == Secret(token))
        }
        for type in ["Bearer", "bearer", "DPoP", "MAC", "N_A", "x-custom!#$%&'*+-.^_`|~9"] {
            let response = try TokenResponse(parsing: try Self.body(accessToken: "ok", tokenType: type))
            #expect(response.tokenType == (type == "bearer" ? "Bearer" : type))
        }
    }

    @Test("a refresh answered with an injecting token fails malformedResponse and leaves the stored record as it was")
    func refreshStoresNothing() async throws {
        for (access, type) in [("at\r\nX-Injected: 1", "Bearer"), ("at-2", "Bearer\r\nX-Injected: 1")] {
            let clock = TestClock()
            let store = MemoryStore(now: { clock.now })
            let transport = FakeTransport()
            let broker = Fixtures.broker(store: store, transport: transport, clock: clock)
            let key = Fixtures.key()
            let seeded = try await Fixtures.seed(store, key: key, clock: clock, expiresIn: .seconds(60))
            clock.advance(by: .seconds(120))
            transport.enqueue(
                .response(FakeTransport.tokenResponse(accessToken: access, refreshToken: "rt-new", tokenType: type)))
            await #expect(throws: BrokerError.malformedResponse) { try await broker.accessToken(for: key) }
            #expect(transport.requestCount(grant: .refreshToken) == 1)
            #expect(try await store.record(for: key) == seeded)
            #expect(broker.unsavedTokenCount == 0)
        }
    }

    @Test("client credentials and a code exchange answered with an injecting token store nothing")
    func newGrantsStoreNothing() async throws {
        let store = MemoryStore()
        let transport = FakeTransport()
        let broker = Fixtures.broker(store: store, transport: transport)
        let key = Fixtures.key()
        transport.enqueue(.response(FakeTransport.tokenResponse(accessToken: "at\nX: 1")))
        await #expect(throws: BrokerError.malformedResponse) { try await broker.accessToken(for: key) }
        #expect(try await store.record(for: key) == nil)

        let request = try await broker.startAuthorization(for: key, redirectURI: AuthorizationCodeFlowTests.redirect)
        let state = try #require(AuthorizationCodeFlowTests.query(of: request.url)["state"])
        transport.enqueue(
            .response(FakeTransport.tokenResponse(accessToken: "ok", refreshToken: "rt", tokenType: "Bearer\r\nX: 1")))
        await #expect(throws: BrokerError.malformedResponse) {
            try await broker.completeAuthorization(callbackURL: AuthorizationCodeFlowTests.callback(state: state))
        }
        #expect(try await store.record(for: key) == nil)
        #expect(transport.requestCount == 2)
    }
}
