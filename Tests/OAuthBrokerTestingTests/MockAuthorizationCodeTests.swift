import Foundation
import OAuthBroker
import OAuthBrokerTesting
import Testing

@Suite("Mock server: authorization endpoint and authorization_code grant")
struct MockAuthorizationCodeTests {
    /// GETs the authorization URL and returns the `Location` it redirects to.
    private func authorize(_ url: URL) async throws -> URL {
        let response = try await LoopbackHTTP.send(.GET, url)
        #expect(response.status == 302)
        return try #require(response.header("Location").flatMap(URL.init(string:)))
    }

    @Test("GET /authorize redirects with code and state; the code exchanges with PKCE for tokens")
    func endToEnd() async throws {
        try await withServer { server in
            let verifier = PKCE.makeVerifier()
            let url = authorizationURL(
                server, challenge: PKCE.challenge(for: verifier), extra: [("login_hint", "alice@example.com")])
            let callback = try await authorize(url)
            #expect(callback.absoluteString.hasPrefix("http://127.0.0.1:9/callback?"))
            let items = queryItems(callback)
            #expect(items["state"] == "st-123")
            let code = try #require(items["code"])

            let response = try await exchange(server, code: code, verifier: verifier.revealedValue)
            #expect(response.status == 200, "\(response.text)")
            #expect(response.header("Cache-Control") == "no-store")
            #expect(response.string("scope") == "read write")
            let access = try #require(response.string("access_token"))
            let refresh = try #require(response.string("refresh_token"))
            #expect(server.isActive(accessToken: Secret(access)))
            #expect(server.isActive(refreshToken: Secret(refresh)))

            let introspection = try await LoopbackHTTP.post(
                server.introspectionEndpoint, form: [("token", access)], basic: confidential)
            #expect(introspection.string("sub") == "alice@example.com")
            #expect(server.statistics.requests(to: .authorization) == 1)
            #expect(server.statistics.requests(grant: .authorizationCode) == 1)
        }
    }

    @Test("approve(authorizationURL:) returns the callback without HTTP; a public client exchanges with PKCE alone")
    func approveHelperPublicClient() async throws {
        try await withServer { server in
            server.registerClient(id: "spa", secret: nil, redirectURIs: ["http://127.0.0.1:9/callback"])
            let verifier = PKCE.makeVerifier()
            let url = authorizationURL(server, clientID: "spa", challenge: PKCE.challenge(for: verifier))
            let callback = try await server.approve(authorizationURL: url)
            let code = try #require(queryItems(callback)["code"])
            #expect(server.statistics.totalRequests == 0)
            let response = try await exchange(
                server, code: code, verifier: verifier.revealedValue, basic: nil, extraForm: [("client_id", "spa")])
            #expect(response.status == 200, "\(response.text)")
            #expect(response.string("refresh_token") != nil)
        }
    }

    @Test("a wrong code_verifier is invalid_grant and burns the code")
    func pkceFailure() async throws {
        try await withServer { server in
            let verifier = PKCE.makeVerifier()
            let callback = try await server.approve(
                authorizationURL: authorizationURL(server, challenge: PKCE.challenge(for: verifier)))
            let code = try #require(queryItems(callback)["code"])
            let wrong = try await exchange(server, code: code, verifier: PKCE.makeVerifier().revealedValue)
            #expect(wrong.status == 400)
            #expect(wrong.error == "invalid_grant")
            #expect(!wrong.has("access_token"))
            let retry = try await exchange(server, code: code, verifier: verifier.revealedValue)
            #expect(retry.error == "invalid_grant")
            #expect(server.statistics.accessTokensIssued == 0)
        }
    }

    @Test("a missing code_verifier is invalid_grant; a verifier without a challenge is refused too")
    func pkceMissingOrDowngraded() async throws {
        try await withServer({ $0.requiresPKCE = false }) { server in
            let verifier = PKCE.makeVerifier()
            let withChallenge = try await server.approve(
                authorizationURL: authorizationURL(server, challenge: PKCE.challenge(for: verifier)))
            let missing = try await exchange(
                server, code: try #require(queryItems(withChallenge)["code"]), verifier: nil)
            #expect(missing.error == "invalid_grant")

            let withoutChallenge = try await server.approve(authorizationURL: authorizationURL(server, challenge: nil))
            let code = try #require(queryItems(withoutChallenge)["code"])
            let downgrade = try await exchange(server, code: code, verifier: verifier.revealedValue)
            #expect(downgrade.error == "invalid_grant")
        }
    }

    @Test("PKCE is required by default, and only S256 is accepted")
    func pkceRequiredAtAuthorization() async throws {
        try await withServer { server in
            let noChallenge = try await authorize(authorizationURL(server, challenge: nil))
            #expect(queryItems(noChallenge)["error"] == "invalid_request")
            #expect(queryItems(noChallenge)["state"] == "st-123")
            #expect(queryItems(noChallenge)["code"] == nil)

            let verifier = PKCE.makeVerifier().revealedValue
            var components = URLComponents(string: server.authorizationEndpoint.absoluteString)!
            components.percentEncodedQuery = String(
                decoding: FormEncoding.encode([
                    ("response_type", "code"), ("client_id", confidential.id),
                    ("redirect_uri", "http://127.0.0.1:9/callback"), ("code_challenge", verifier),
                    ("code_challenge_method", "plain"),
                ]), as: UTF8.self)
            let plain = try await authorize(components.url!)
            #expect(queryItems(plain)["error"] == "invalid_request")
        }
    }

    @Test("a replayed code is invalid_grant and revokes the tokens issued for it")
    func codeReuse() async throws {
        try await withServer { server in
            let verifier = PKCE.makeVerifier()
            let callback = try await server.approve(
                authorizationURL: authorizationURL(server, challenge: PKCE.challenge(for: verifier)))
            let code = try #require(queryItems(callback)["code"])
            let first = try await exchange(server, code: code, verifier: verifier.revealedValue)
            let access = try #require(first.string("access_token"))
            let refresh = try #require(first.string("refresh_token"))
            #expect(server.isActive(accessToken: Secret(access)))

            let second = try await exchange(server, code: code, verifier: verifier.revealedValue)
            #expect(second.status == 400)
            #expect(second.error == "invalid_grant")
            #expect(!server.isActive(accessToken: Secret(access)))
            #expect(!server.isActive(refreshToken: Secret(refresh)))
            #expect(server.statistics.authorizationCodeReplays == 1)
        }
    }

    @Test("a code is bound to its client and redirect_uri")
    func codeBinding() async throws {
        try await withServer { server in
            server.registerClient(id: "other", secret: Secret("o"))
            let verifier = PKCE.makeVerifier()
            let first = try #require(
                queryItems(
                    try await server.approve(
                        authorizationURL: authorizationURL(server, challenge: PKCE.challenge(for: verifier))))["code"])
            let otherClient = try await exchange(
                server, code: first, verifier: verifier.revealedValue, basic: ("other", "o"))
            #expect(otherClient.error == "invalid_grant")

            let second = try #require(
                queryItems(
                    try await server.approve(
                        authorizationURL: authorizationURL(server, challenge: PKCE.challenge(for: verifier))))["code"])
            let otherRedirect = try await exchange(
                server, code: second, verifier: verifier.revealedValue, redirectURI: "http://127.0.0.1:9/elsewhere")
            #expect(otherRedirect.error == "invalid_grant")
            #expect(server.statistics.accessTokensIssued == 0)
        }
    }

    @Test("codes expire after the configured lifetime")
    func codeExpiry() async throws {
        let clock = TestClock()
        try await withServer({
            $0.clock = clock.brokerClock
            $0.authorizationCodeLifetime = .seconds(30)
        }) { server in
            let verifier = PKCE.makeVerifier()
            let url = authorizationURL(server, challenge: PKCE.challenge(for: verifier))
            let fresh = try #require(queryItems(try await server.approve(authorizationURL: url))["code"])
            let stale = try #require(queryItems(try await server.approve(authorizationURL: url))["code"])
            clock.advance(by: .seconds(29))
            #expect(try await exchange(server, code: fresh, verifier: verifier.revealedValue).status == 200)
            clock.advance(by: .seconds(1))
            let expired = try await exchange(server, code: stale, verifier: verifier.revealedValue)
            #expect(expired.error == "invalid_grant")
        }
    }

    @Test("deny mode redirects with error=access_denied and the state, and no code")
    func denyMode() async throws {
        try await withServer({ $0.authorizationDecision = .deny }) { server in
            let verifier = PKCE.makeVerifier()
            let url = authorizationURL(server, challenge: PKCE.challenge(for: verifier))
            let denied = queryItems(try await authorize(url))
            #expect(denied["error"] == "access_denied")
            #expect(denied["state"] == "st-123")
            #expect(denied["code"] == nil)

            server.authorizationDecision = .fail(with: OAuthErrorCode(rawValue: "consent_required"))
            #expect(queryItems(try await authorize(url))["error"] == "consent_required")

            server.authorizationDecision = .approve
            #expect(queryItems(try await authorize(url))["code"] != nil)
            // The helpers decide by themselves.
            #expect(queryItems(try await server.deny(authorizationURL: url))["error"] == "access_denied")
        }
    }

    @Test("an unknown client or unregistered redirect URI gets an error page, never a redirect")
    func unredirectableErrors() async throws {
        try await withServer { server in
            server.registerClient(id: "strict", secret: Secret("x"), redirectURIs: ["https://app.example/cb"])
            let challenge = PKCE.challenge(for: PKCE.makeVerifier())
            for url in [
                authorizationURL(server, clientID: "nobody", challenge: challenge),
                authorizationURL(
                    server, clientID: "strict", redirectURI: "https://evil.example/cb", challenge: challenge),
                authorizationURL(server, redirectURI: "http://127.0.0.1:9/cb#fragment", challenge: challenge),
            ] {
                let response = try await LoopbackHTTP.send(.GET, url)
                #expect(response.status == 400)
                #expect(response.header("Location") == nil)
                #expect(response.header("Content-Type")?.hasPrefix("text/html") == true)
                await #expect(throws: BrokerError.invalidInput) { try await server.approve(authorizationURL: url) }
            }
            let registered = try await server.approve(
                authorizationURL: authorizationURL(
                    server, clientID: "strict", redirectURI: "https://app.example/cb", challenge: challenge))
            #expect(registered.host == "app.example")
        }
    }

    @Test("a redirect URI with a query keeps it and appends the response parameters")
    func redirectURIWithQuery() async throws {
        try await withServer { server in
            let url = authorizationURL(
                server, redirectURI: "http://127.0.0.1:9/cb?tenant=acme",
                challenge: PKCE.challenge(for: PKCE.makeVerifier()))
            let items = queryItems(try await server.approve(authorizationURL: url))
            #expect(items["tenant"] == "acme")
            #expect(items["code"] != nil)
        }
    }
}
