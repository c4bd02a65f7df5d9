import Foundation
import OAuthBroker
import OAuthBrokerTools
import Testing

@Suite("ProviderFile")
struct ProviderFileTests {
    private func parse(_ json: String, environment: [String: String] = [:]) throws -> ProviderFile {
        try ProviderFile(json: Data(json.utf8), environment: environment, source: "provider file test.json")
    }

    @Test("every field is read, with ${env:} in strings, grants and extra parameters")
    func everyField() throws {
        let file = try parse(
            """
            {
              "id": "billing", "token_endpoint": "https://auth.example.com/token",
              "authorization_endpoint": "https://auth.example.com/authorize",
              "revocation_endpoint": "https://auth.example.com/revoke",
              "introspection_endpoint": "https://auth.example.com/introspect",
              "client_id": "${env:CID}", "client_secret": "${env:CSECRET}", "client_auth": "client_secret_post",
              "grants": ["authorization_code", "${env:GRANT}"], "redirect_uri": "https://app.example.com/cb",
              "scope_delimiter": ",", "pkce_required": false, "allow_insecure_loopback": false,
              "extra_token_params": {"audience": "${env:AUD}", "resource": "https://api.example.com"}
            }
            """,
            environment: ["CID": "client-1", "CSECRET": "hunter2", "GRANT": "refresh_token", "AUD": "api"])
        let descriptor = file.descriptor
        #expect(descriptor.id.rawValue == "billing")
        #expect(descriptor.tokenEndpoint.absoluteString == "https://auth.example.com/token")
        #expect(descriptor.authorizationEndpoint?.absoluteString == "https://auth.example.com/authorize")
        #expect(descriptor.revocationEndpoint?.absoluteString == "https://auth.example.com/revoke")
        #expect(descriptor.introspectionEndpoint?.absoluteString == "https://auth.example.com/introspect")
        #expect(descriptor.clientID == "client-1")
        #expect(descriptor.clientSecret == Secret("hunter2"))
        #expect(descriptor.clientAuthentication == .clientSecretPost)
        #expect(descriptor.grants == [.authorizationCode, .refreshToken])
        #expect(descriptor.scopeDelimiter == ",")
        #expect(descriptor.requiresPKCE == false)
        #expect(descriptor.allowsInsecureLoopback == false)
        #expect(descriptor.extraTokenParameters == ["audience": "api", "resource": "https://api.example.com"])
        #expect(file.redirectURI == "https://app.example.com/cb")
        #expect(!String(describing: file).contains("hunter2"))
    }

    @Test("defaults: basic auth with a secret, none without; PKCE required; space delimiter; https only")
    func defaults() throws {
        let confidential = try parse(
            #"{"id":"p","token_endpoint":"https://a.example/t","client_id":"c","client_secret":"s","grants":["client_credentials"]}"#
        )
        #expect(confidential.descriptor.clientAuthentication == .clientSecretBasic)
        #expect(confidential.descriptor.requiresPKCE)
        #expect(confidential.descriptor.scopeDelimiter == " ")
        #expect(!confidential.descriptor.allowsInsecureLoopback)
        #expect(confidential.redirectURI == nil)
        let publicClient = try parse(
            #"{"id":"p","token_endpoint":"https://a.example/t","client_id":"c","grants":["refresh_token"]}"#)
        #expect(publicClient.descriptor.clientAuthentication == .none)
    }

    @Test("allow_insecure_loopback admits http only on loopback hosts, for endpoints and the redirect URI")
    func insecureLoopback() throws {
        for host in ["127.0.0.1:8080", "localhost", "[::1]:9000"] {
            let file = try parse(
                """
                {"id":"p","token_endpoint":"http://\(host)/t","client_id":"c","grants":["refresh_token"],
                 "redirect_uri":"http://\(host)/cb","allow_insecure_loopback":true}
                """)
            #expect(file.descriptor.tokenEndpoint.scheme == "http")
        }
        #expect(throws: BrokerError.invalidConfiguration) {
            try parse(
                #"{"id":"p","token_endpoint":"http://10.0.0.1/t","client_id":"c","grants":["refresh_token"],"allow_insecure_loopback":true}"#
            )
        }
        #expect(throws: BrokerError.invalidConfiguration) {
            try parse(
                #"{"id":"p","token_endpoint":"https://a.example/t","client_id":"c","grants":["refresh_token"],"redirect_uri":"http://127.0.0.1/cb"}"#
            )
        }
    }

    @Test("errors name the field and never quote a value")
    func errorsNameTheField() throws {
        let common = #""token_endpoint":"https://a.example/t","client_id":"c""#
        let base = #"\#(common),"id":"p","grants":["client_credentials"]"#
        let cases: [(String, String)] = [
            (#"{\#(base),"client_secret":"sekrit-value","colour":"blue"}"#, "unknown field \"colour\""),
            (#"{\#(base),"client_secret":"${env:NOPE_NOT_SET}"}"#, "environment variable NOPE_NOT_SET is not set"),
            (#"{\#(base),"client_secret":"sekrit-${env:X}"}"#, "must be the whole value"),
            (#"{\#(base),"client_secret":"${env:bad-name}"}"#, "variable name"),
            (#"{\#(base),"client_secret":42}"#, "field \"client_secret\" must be a string"),
            (#"{\#(base),"client_auth":"client_secret_basic"}"#, "needs a client secret"),
            (#"{\#(base),"extra_token_params":{"grant_type":"x"}}"#, "extra_token_params entry grant_type"),
            (#"{\#(base),"extra_token_params":{"a":1}}"#, "extra_token_params"),
            (#"{"id":"p","client_id":"c","grants":[]}"#, "\"token_endpoint\" is required"),
            (#"{\#(common),"id":"p","grants":[]}"#, "at least one grant"),
            (#"{\#(common),"id":"p","grants":["client_credentials","authorization_code"]}"#, "authorization_endpoint"),
            (#"["not an object"]"#, "must be a JSON object"),
            (#"{\#(common),"id":" padded","grants":["client_credentials"]}"#, "field \"id\""),
        ]
        for (json, expected) in cases {
            do {
                _ = try parse(json, environment: ["X": "y"])
                Issue.record("accepted: \(json)")
            } catch let error as BrokerError {
                #expect(error.code == .invalidConfiguration, "\(json)")
                #expect(error.message.hasPrefix("provider file test.json: "), "\(error.message)")
                #expect(error.message.contains(expected), "\(error.message) does not mention \(expected)")
                #expect(!error.message.contains("sekrit"))
            }
        }
    }
}
