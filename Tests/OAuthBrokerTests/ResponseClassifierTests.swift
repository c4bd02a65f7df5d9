import Foundation
import OAuthBroker
import OAuthBrokerTesting
import Testing

@Suite struct ResponseClassifierTests {
    static func json(_ text: String) throws -> JSONValue { try JSONValue(parsing: Data(text.utf8)) }

    @Test("an RFC 6749 §5.2 error object is read from a parsed body")
    func oauthErrorFromJSON() throws {
        let full = try Self.json(#"{"error":"invalid_grant","error_description":"expired","error_uri":"https://e/x"}"#)
        let body = try #require(ResponseClassifier.oauthError(in: full))
        #expect(body.code == .invalidGrant)
        #expect(body.description == "expired")
        #expect(body.uri == "https://e/x")
        let odd = try #require(
            ResponseClassifier.oauthError(
                in: try Self.json(#"{"error":"custom_code","error_description":7,"error_uri":["x"]}"#)))
        #expect(odd.code == OAuthErrorCode(rawValue: "custom_code"))
        #expect(odd.description == nil && odd.uri == nil)
    }

    @Test(
        "bodies that are not an OAuth error",
        arguments: [
            #"{"access_token":"a"}"#, #"{"error":""}"#, #"{"error":42}"#, #"{"error":null}"#, #"[{"error":"x"}]"#,
            #""invalid_grant""#, #"{"error":"\#(String(repeating: "e", count: 129))"}"#,
        ])
    func notAnOAuthError(text: String) throws {
        #expect(ResponseClassifier.oauthError(in: try Self.json(text)) == nil)
        #expect(ResponseClassifier.oauthError(in: Data(text.utf8)) == nil)
    }

    @Test("the Data overload parses and agrees with the JSON overload; non-JSON is no error body")
    func dataOverload() throws {
        let text = #"{"error":"slow_down","error_description":"wait"}"#
        #expect(
            ResponseClassifier.oauthError(in: Data(text.utf8)) == ResponseClassifier.oauthError(in: try Self.json(text))
        )
        #expect(ResponseClassifier.oauthError(in: Data("<html>error</html>".utf8)) == nil)
        #expect(ResponseClassifier.oauthError(in: Data(#"{"error":"x""#.utf8)) == nil)
        let maximal = String(repeating: "e", count: 128)
        #expect(ResponseClassifier.oauthError(in: Data(#"{"error":"\#(maximal)"}"#.utf8))?.code.rawValue == maximal)
    }

    @Test(
        "classify on a pre-parsed body gives what classify on the raw response gives",
        arguments: [
            FakeTransport.oauthError("invalid_grant", description: "token expired"),
            FakeTransport.oauthError("invalid_client", status: 401),
            FakeTransport.oauthError("slow_down"),
            FakeTransport.oauthError("temporarily_unavailable", status: 400),
            FakeTransport.oauthError("invalid_request"),
            FakeTransport.oauthError("invalid_grant", status: 429),
            FakeTransport.rawResponse(status: 500, contentType: "text/html", body: "<html>oops</html>"),
            FakeTransport.rawResponse(status: 403, contentType: "text/html", body: "<html>no</html>"),
            FakeTransport.rawResponse(status: 302, contentType: "text/plain", body: ""),
            FakeTransport.rawResponse(
                status: 503, contentType: "application/json", body: "{}", headers: ["Retry-After": "7"]),
        ])
    func classifyPreParsed(response: TransportResponse) throws {
        let metadata = ResponseMetadata(response, now: Date())
        let provider = try ProviderID("acme")
        let json = try? JSONValue(parsing: response.body)
        let fromJSON = ResponseClassifier.classify(response, json: json, metadata: metadata, provider: provider)
        let fromBody = ResponseClassifier.classify(response, metadata: metadata, provider: provider)
        #expect(fromJSON == fromBody)
        #expect(fromJSON.message == fromBody.message)
        #expect(fromJSON.oauthError == fromBody.oauthError)
        #expect(fromJSON.oauthErrorDescription == fromBody.oauthErrorDescription)
        #expect(fromJSON.status == fromBody.status)
        #expect(fromJSON.retryAfter == fromBody.retryAfter)
    }

    @Test("classify uses the parsed body it is given, not the raw body")
    func usesGivenJSON() throws {
        let response = FakeTransport.oauthError("invalid_grant")
        let metadata = ResponseMetadata(response, now: Date())
        let none = ResponseClassifier.classify(response, json: nil, metadata: metadata, provider: nil)
        #expect(none == .providerRejected)
        #expect(none.oauthError == nil)
        let other = ResponseClassifier.classify(
            response, json: .object(["error": .string("invalid_client")]), metadata: metadata, provider: nil)
        #expect(other == .clientRejected)
    }
}
