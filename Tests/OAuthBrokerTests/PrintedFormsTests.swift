import Foundation
import OAuthBroker
import OAuthBrokerTesting
import Testing

/// Every printed form (`description`, `debugDescription`, interpolation, `dump`, `Mirror`) of responses, requests
/// and errors keeps secrets and the provider's free text out, and stays on one line.
@Suite struct PrintedFormsTests {
    static let raw = SecretTests.raw

    static func expectClean(_ value: Any, of secrets: [String], sourceLocation: SourceLocation = #_sourceLocation) {
        for text in SecretTests.renderings(of: value) {
            for secret in secrets {
                #expect(!text.contains(secret), "\(type(of: value)) leaked: \(text)", sourceLocation: sourceLocation)
            }
        }
    }

    @Test("a token response prints no token and no extra field's value")
    func tokenResponse() throws {
        let body = try JSONSerialization.data(withJSONObject: [
            "access_token": Self.raw, "token_type": "Bearer", "refresh_token": Self.raw + "-refresh",
            "id_token": Self.raw + "-id", "expires_in": 60, "scope": "read",
            "session_key": Self.raw + "-extra", "nested": ["inner": Self.raw + "-nested"],
        ])
        let response = try TokenResponse(parsing: body)
        Self.expectClean(response, of: [Self.raw])
        #expect(response.description.contains("session_key"))
        #expect(response.description.contains("nested"))
        #expect(response.extraFields["session_key"] == .string(Self.raw + "-extra"))
    }

    @Test("an authorization request prints neither its state nor its query")
    func authorizationRequest() async throws {
        let store = MemoryStore()
        let broker = Fixtures.broker(store: store)
        let request = try await broker.startAuthorization(
            for: Fixtures.key(), redirectURI: AuthorizationCodeFlowTests.redirect)
        let state = try #require(AuthorizationCodeFlowTests.query(of: request.url)["state"])
        let session = try #require(try await store.takeSession(id: request.sessionID))
        Self.expectClean(request, of: [state, session.codeVerifier.revealedValue, "code_challenge"])
        Self.expectClean(session, of: [state, session.codeVerifier.revealedValue])
        #expect(request.description.contains("https://idp.example.com/oauth/authorize"))
    }

    @Test("an error prints no error_description, and the provider's text cannot add a line")
    func brokerErrorFromProvider() throws {
        let hostileCode = "invalid_request\r\nX-Injected: 1"
        let response = FakeTransport.oauthError(
            hostileCode, description: "refresh token \(Self.raw) is not valid\nsecond line")
        let error = ResponseClassifier.classify(
            response, metadata: ResponseMetadata(response, now: Date()), provider: Fixtures.providerID)
        #expect(error.code == .providerRejected)
        Self.expectClean(error, of: [Self.raw, "second line"])
        for text in [error.description, error.debugDescription, error.message] {
            #expect(!text.contains("\n") && !text.contains("\r"), "\(text)")
        }
        #expect(error.debugDescription.contains("error_description omitted"))
        // Available on purpose, bounded and on one line.
        let description = try #require(error.oauthErrorDescription)
        #expect(description.contains(Self.raw) && !description.contains("\n"))
        let long = BrokerError(.providerRejected, "x", oauthErrorDescription: String(repeating: "d", count: 1000))
        #expect((long.oauthErrorDescription?.count ?? 0) <= 257)

        let body = try #require(ResponseClassifier.oauthError(in: response.body))
        Self.expectClean(body, of: [Self.raw, "second line"])
    }

    @Test("an authorization callback's error and error_description cannot leak or add a line")
    func brokerErrorFromCallback() async throws {
        let broker = Fixtures.broker()
        let request = try await broker.startAuthorization(
            for: Fixtures.key(), redirectURI: AuthorizationCodeFlowTests.redirect)
        let state = try #require(AuthorizationCodeFlowTests.query(of: request.url)["state"])
        let callback = URL(
            string: "\(AuthorizationCodeFlowTests.redirect)?state=\(state)&error=access_denied%0D%0AX-Injected%3A+1"
                + "&error_description=\(FormEncoding.encode(Self.raw))")!
        let error = try await #require(throws: BrokerError.self) {
            try await broker.completeAuthorization(callbackURL: callback)
        }
        #expect(error.code == .authorizationDenied)
        Self.expectClean(error, of: [Self.raw, "\r"])
        for text in [error.description, error.debugDescription, error.message] {
            #expect(!text.contains("\n"), "\(text)")
        }
    }

    @Test("an underlying error is printed on one line")
    func underlyingErrorOnOneLine() {
        struct Multiline: Error, CustomStringConvertible {
            var description: String { "first\nsecond" }
        }
        let error = BrokerError(.storeFailed, "failed\r\nX-Injected: 1", underlying: Multiline())
        for text in SecretTests.renderings(of: error) where !text.hasPrefix("▿") {
            #expect(!text.contains("\n") && !text.contains("\r"), "\(text)")
        }
        #expect(error.debugDescription.contains("first?second"))
    }
}
