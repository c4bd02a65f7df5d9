import Foundation
import OAuthBroker
import OAuthBrokerTesting
import Testing

@Suite struct SecretTests {
    static let raw = "super-secret-token-VALUE-42"

    /// Every way a value can be printed.
    static func renderings(of value: Any) -> [String] {
        var dumped = ""
        dump(value, to: &dumped)
        var mirrorText = ""
        for child in Mirror(reflecting: value).children { mirrorText += "\(child.label ?? ""):\(child.value) " }
        return [
            String(describing: value), String(reflecting: value), "\(value)", dumped, mirrorText,
        ]
    }

    @Test func secretNeverPrints() throws {
        let secret = Secret(Self.raw)
        for text in Self.renderings(of: secret) {
            #expect(!text.contains(Self.raw), "leaked: \(text)")
        }
        #expect("\(secret)" == "<redacted>")
        #expect(secret.revealedValue == Self.raw)
        #expect(Secret("a") != Secret("b"))
        #expect(Secret("abc") == Secret("abc"))
    }

    @Test func secretCodableRoundTripsAndDecodingErrorsDoNotQuote() throws {
        let encoded = try JSONEncoder().encode(["t": Secret(Self.raw)])
        let decoded = try JSONDecoder().decode([String: Secret].self, from: encoded)
        #expect(decoded["t"] == Secret(Self.raw))
        let wrongType = Data(#"{"t": {"nested": "\#(Self.raw)"}}"#.utf8)
        do {
            _ = try JSONDecoder().decode([String: Secret].self, from: wrongType)
            Issue.record("decoding should fail")
        } catch {
            #expect(!String(describing: error).contains(Self.raw))
        }
    }

    @Test func recordsTokensSessionsAndErrorsNeverPrintSecrets() throws {
        let key = Fixtures.key()
        let record = TokenRecord(
            accessToken: Secret(Self.raw), refreshToken: Secret(Self.raw + "-refresh"), issuedAt: Date(),
            expiresAt: Date().addingTimeInterval(60), idToken: Secret(Self.raw + "-id"),
            extraFields: ["opaque": .string(Self.raw + "-extra")])
        let token = AccessToken(record: record, key: key)
        let session = AuthorizationSession(
            state: Secret(Self.raw + "-state"), codeVerifier: Secret(Self.raw + "-verifier"),
            redirectURI: "https://app.example.com/cb", key: key, createdAt: Date(), expiresAt: Date())
        let provider = Fixtures.provider()
        let request = TransportRequest(
            url: URL(string: "https://idp.example.com/token")!, headers: ["Authorization": "Basic \(Self.raw)"],
            body: Data("refresh_token=\(Self.raw)".utf8))
        for value in [record, token, session, provider, request] as [Any] {
            for text in Self.renderings(of: value) {
                #expect(!text.contains(Self.raw), "leaked by \(type(of: value)): \(text)")
                #expect(!text.contains("s3cr3t-client"), "client secret leaked by \(type(of: value))")
            }
        }
    }

    @Test func brokerErrorsCarryContextButNoSecrets() throws {
        let response = FakeTransport.oauthError("invalid_grant", description: "token expired")
        let error = ResponseClassifier.classify(
            response, metadata: ResponseMetadata(response, now: Date()), provider: Fixtures.providerID)
        #expect(error == .invalidGrant)
        #expect(error.oauthError == .invalidGrant)
        #expect(error.oauthErrorDescription == "token expired")
        #expect(error.status == 400)
        #expect(error.needsReauthorization)
        #expect(!error.isTransient)
        #expect(error.code.description == "invalid_grant")
        #expect(String(describing: error).contains("invalid_grant"))
        let keyed = error.adding(key: Fixtures.key())
        #expect(keyed.redactedKey == Fixtures.key().redactedDescription)
    }
}

@Suite struct PKCETests {
    @Test("RFC 7636 Appendix B vector")
    func appendixB() {
        let verifier = Secret("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")
        #expect(PKCE.challenge(for: verifier) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM")
    }

    @Test func verifiersAreLongUniqueAndValid() {
        let a = PKCE.makeVerifier()
        let b = PKCE.makeVerifier()
        #expect(a != b)
        #expect(a.revealedValue.count == 43)
        #expect(PKCE.isValidVerifier(a.revealedValue))
        #expect(PKCE.makeVerifier(byteCount: 96).revealedValue.count == 128)
        #expect(!PKCE.isValidVerifier("short"))
        #expect(!PKCE.isValidVerifier(String(repeating: "a", count: 42) + "+"))
        #expect(PKCE.makeState() != PKCE.makeState())
    }
}

@Suite struct EncodingTests {
    @Test("client_secret_basic form-encodes id and secret before base64 (RFC 6749 §2.3.1)")
    func basicAuthorization() {
        let header = FormEncoding.basicAuthorization(clientID: "my client:1", clientSecret: Secret("p@ss/w%rd+"))
        let payload = String(decoding: Data(base64Encoded: String(header.dropFirst(6)))!, as: UTF8.self)
        #expect(payload == "my+client%3A1:p%40ss%2Fw%25rd%2B")
    }

    @Test func formRoundTrip() {
        let pairs = [("a b", "c&d=e"), ("ü", "~._-"), ("empty", "")]
        let body = String(decoding: FormEncoding.encode(pairs), as: UTF8.self)
        #expect(body == "a+b=c%26d%3De&%C3%BC=~._-&empty=")
        let decoded = FormEncoding.decode(body)
        #expect(decoded.map(\.0) == pairs.map(\.0))
        #expect(decoded.map(\.1) == pairs.map(\.1))
    }

    @Test func retryAfterParsing() {
        let now = Date(timeIntervalSince1970: 1_445_412_480)  // Wed, 21 Oct 2015 07:28:00 GMT
        #expect(ResponseMetadata.parseRetryAfter("120", now: now) == .seconds(120))
        #expect(ResponseMetadata.parseRetryAfter("Wed, 21 Oct 2015 07:28:30 GMT", now: now) == .seconds(30))
        #expect(ResponseMetadata.parseRetryAfter("Wednesday, 21-Oct-15 07:28:10 GMT", now: now) == .seconds(10))
        #expect(ResponseMetadata.parseRetryAfter("Wed Oct 21 07:28:05 2015", now: now) == .seconds(5))
        #expect(ResponseMetadata.parseRetryAfter("Wed, 21 Oct 2015 07:00:00 GMT", now: now) == .zero)
        #expect(ResponseMetadata.parseRetryAfter("soon", now: now) == nil)
        #expect(ResponseMetadata.parseRetryAfter("-5", now: now) == nil)
    }
}
