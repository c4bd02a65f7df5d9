import Foundation
import OAuthBroker
import OAuthBrokerTesting
import Testing

@Suite("Mock server: token endpoint and client authentication")
struct MockTokenEndpointTests {
    @Test("client_credentials with client_secret_basic issues an active bearer token without a refresh token")
    func clientCredentialsBasic() async throws {
        try await withServer({ $0.accessTokenLifetime = .seconds(120) }) { server in
            let response = try await clientCredentials(server, scope: "read write")
            #expect(response.status == 200)
            #expect(response.header("Cache-Control") == "no-store")
            #expect(response.header("Content-Type")?.hasPrefix("application/json") == true)
            #expect(response.string("token_type") == "Bearer")
            #expect(response.integer("expires_in") == 120)
            #expect(response.string("scope") == "read write")
            #expect(!response.has("refresh_token"))
            let token = try #require(response.string("access_token"))
            #expect(server.isActive(accessToken: Secret(token)))
            #expect(!server.isActive(accessToken: Secret(token + "x")))
            #expect(server.statistics.requests(grant: .clientCredentials) == 1)
            #expect(server.statistics.accessTokensIssued == 1)
        }
    }

    @Test("client_credentials issues a refresh token only when configured")
    func clientCredentialsRefreshToken() async throws {
        try await withServer({ $0.issuesRefreshTokenForClientCredentials = true }) { server in
            let response = try await clientCredentials(server)
            let refreshToken = try #require(response.string("refresh_token"))
            #expect(server.isActive(refreshToken: Secret(refreshToken)))
        }
    }

    @Test("client_secret_post authenticates with client_id and client_secret in the body")
    func clientSecretPost() async throws {
        try await withServer { server in
            let response = try await LoopbackHTTP.post(
                server.tokenEndpoint,
                form: [
                    ("grant_type", "client_credentials"), ("client_id", confidential.id),
                    ("client_secret", confidential.secret),
                ])
            #expect(response.status == 200)
            #expect(response.string("access_token") != nil)
            #expect(server.statistics.requests(clientID: confidential.id) == 1)
        }
    }

    @Test(
        "credentials that need form-encoding work with Basic and with post",
        arguments: [("a:b c", "p@ss/w%rd"), ("ünïcode+id", "sec=ret&x"), ("plain", "a:b:c")])
    func encodedCredentials(id: String, secret: String) async throws {
        try await withServer { server in
            server.registerClient(id: id, secret: Secret(secret))
            let basic = try await LoopbackHTTP.post(
                server.tokenEndpoint, form: [("grant_type", "client_credentials")], basic: (id, secret))
            #expect(basic.status == 200, "Basic: \(basic.text)")
            let post = try await LoopbackHTTP.post(
                server.tokenEndpoint,
                form: [("grant_type", "client_credentials"), ("client_id", id), ("client_secret", secret)])
            #expect(post.status == 200, "post: \(post.text)")
            #expect(server.statistics.requests(clientID: id) == 2)
        }
    }

    @Test("Basic credentials sent without form-encoding are split at the first colon and rejected")
    func unencodedBasicIsRejected() async throws {
        try await withServer { server in
            server.registerClient(id: "a:b c", secret: Secret("p@ss/w%rd"))
            let raw = Data("a:b c:p@ss/w%rd".utf8).base64EncodedString()
            let response = try await LoopbackHTTP.post(
                server.tokenEndpoint, form: [("grant_type", "client_credentials")],
                headers: [("Authorization", "Basic \(raw)")])
            #expect(response.status == 401)
            #expect(response.error == "invalid_client")
            // Counted under the ID as the server decoded it.
            #expect(server.statistics.requests(clientID: "a") == 1)
        }
    }

    @Test("wrong secret, unknown client and missing credentials are 401 invalid_client with WWW-Authenticate")
    func invalidClient() async throws {
        try await withServer { server in
            let attempts: [LoopbackResponse] = [
                try await LoopbackHTTP.post(
                    server.tokenEndpoint, form: [("grant_type", "client_credentials")],
                    basic: (confidential.id, "wrong")),
                try await LoopbackHTTP.post(
                    server.tokenEndpoint, form: [("grant_type", "client_credentials")], basic: ("nobody", "x")),
                try await LoopbackHTTP.post(
                    server.tokenEndpoint,
                    form: [
                        ("grant_type", "client_credentials"), ("client_id", confidential.id), ("client_secret", ""),
                    ]),
                try await LoopbackHTTP.post(server.tokenEndpoint, form: [("grant_type", "client_credentials")]),
                // A confidential client may not pose as a public one.
                try await LoopbackHTTP.post(
                    server.tokenEndpoint, form: [("grant_type", "client_credentials"), ("client_id", confidential.id)]),
            ]
            for response in attempts {
                #expect(response.status == 401)
                #expect(response.error == "invalid_client")
                #expect(response.header("WWW-Authenticate")?.hasPrefix("Basic") == true)
                #expect(response.header("Cache-Control") == "no-store")
                #expect(!response.has("access_token"))
            }
            #expect(server.statistics.accessTokensIssued == 0)
        }
    }

    @Test("using Basic and client_secret together is invalid_request")
    func twoAuthenticationMethods() async throws {
        try await withServer { server in
            let response = try await LoopbackHTTP.post(
                server.tokenEndpoint,
                form: [("grant_type", "client_credentials"), ("client_secret", confidential.secret)],
                basic: confidential)
            #expect(response.status == 400)
            #expect(response.error == "invalid_request")
        }
    }

    @Test("a client restricted to client_secret_post is refused with Basic")
    func restrictedAuthenticationMethod() async throws {
        try await withServer { server in
            server.registerClient(id: "post-only", secret: Secret("pw"), authenticationMethods: [.clientSecretPost])
            let basic = try await LoopbackHTTP.post(
                server.tokenEndpoint, form: [("grant_type", "client_credentials")], basic: ("post-only", "pw"))
            #expect(basic.status == 401)
            let post = try await LoopbackHTTP.post(
                server.tokenEndpoint,
                form: [("grant_type", "client_credentials"), ("client_id", "post-only"), ("client_secret", "pw")])
            #expect(post.status == 200)
        }
    }

    @Test("a public client may not use client_credentials")
    func publicClientCredentials() async throws {
        try await withServer { server in
            server.registerClient(id: "spa", secret: nil)
            let response = try await LoopbackHTTP.post(
                server.tokenEndpoint, form: [("grant_type", "client_credentials"), ("client_id", "spa")])
            #expect(response.status == 400)
            #expect(response.error == "unauthorized_client")
        }
    }

    @Test("malformed token requests get the RFC 6749 §5.2 error codes")
    func malformedRequests() async throws {
        try await withServer { server in
            let unsupported = try await LoopbackHTTP.post(
                server.tokenEndpoint, form: [("grant_type", "password")], basic: confidential)
            #expect(unsupported.status == 400)
            #expect(unsupported.error == "unsupported_grant_type")

            let missing = try await LoopbackHTTP.post(server.tokenEndpoint, form: [], basic: confidential)
            #expect(missing.error == "invalid_request")

            let repeated = try await LoopbackHTTP.post(
                server.tokenEndpoint,
                form: [("grant_type", "client_credentials"), ("grant_type", "client_credentials")],
                basic: confidential)
            #expect(repeated.error == "invalid_request")

            let json = try await LoopbackHTTP.send(
                .POST, server.tokenEndpoint, headers: [("Content-Type", "application/json")],
                body: Array(#"{"grant_type":"client_credentials"}"#.utf8))
            #expect(json.status == 400)
            #expect(json.error == "invalid_request")

            let get = try await LoopbackHTTP.send(.GET, server.tokenEndpoint)
            #expect(get.status == 405)
            #expect(get.header("Allow") == "POST")

            let unknown = try await LoopbackHTTP.send(.GET, server.baseURL.appendingPathComponent("nothing-here"))
            #expect(unknown.status == 404)
            #expect(server.statistics.totalRequests == 5)
            #expect(server.statistics.requestsByGrantType["password"] == 1)
            #expect(server.statistics.requestsByGrantType[""] == 3)
        }
    }

    @Test("unknown scopes are invalid_scope when the server lists its scopes")
    func supportedScopes() async throws {
        try await withServer({ $0.supportedScopes = ["read", "write"] }) { server in
            #expect(try await clientCredentials(server, scope: "read").status == 200)
            let response = try await clientCredentials(server, scope: "read admin")
            #expect(response.status == 400)
            #expect(response.error == "invalid_scope")
        }
    }

    @Test("default scopes are granted when none is requested, joined by the configured delimiter")
    func defaultScopesAndDelimiter() async throws {
        try await withServer({
            $0.defaultScopes = ["a", "b"]
            $0.scopeDelimiter = ","
        }) { server in
            let defaults = try await clientCredentials(server)
            let explicit = try await clientCredentials(server, scope: "x,y")
            #expect(defaults.string("scope") == "a,b")
            #expect(explicit.string("scope") == "x,y")
        }
    }

    @Test("tenant endpoints accept only that tenant's clients; the plain endpoint accepts all")
    func tenants() async throws {
        try await withServer { server in
            server.registerClient(id: "acme-app", secret: Secret("a1"), tenant: "acme")
            server.registerClient(id: "globex-app", secret: Secret("g1"), tenant: "globex")
            #expect(
                server.endpoint(.token, tenant: "acme").absoluteString
                    == "http://127.0.0.1:\(server.port)/tenants/acme/token")
            let form = [("grant_type", "client_credentials")]
            let own = try await LoopbackHTTP.post(
                server.endpoint(.token, tenant: "acme"), form: form, basic: ("acme-app", "a1"))
            #expect(own.status == 200)
            let foreign = try await LoopbackHTTP.post(
                server.endpoint(.token, tenant: "acme"), form: form, basic: ("globex-app", "g1"))
            #expect(foreign.status == 401)
            #expect(foreign.error == "invalid_client")
            let plain = try await LoopbackHTTP.post(server.tokenEndpoint, form: form, basic: ("globex-app", "g1"))
            #expect(plain.status == 200)
            let statistics = server.statistics
            #expect(statistics.requestsByTenant == ["acme": 1, "globex": 2])
        }
    }
}
