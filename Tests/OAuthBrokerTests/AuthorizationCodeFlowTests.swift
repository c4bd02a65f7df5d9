import Foundation
import OAuthBroker
import OAuthBrokerTesting
import Testing

@Suite struct AuthorizationCodeFlowTests {
    static let redirect = "https://app.example.com/oauth/callback"

    static func query(of url: URL) -> [String: String] {
        var fields: [String: String] = [:]
        for (name, value) in FormEncoding.decode(url.query(percentEncoded: true) ?? "") { fields[name] = value }
        return fields
    }

    static func callback(code: String = "code-1", state: String) -> URL {
        URL(string: "\(redirect)?code=\(code)&state=\(FormEncoding.encode(state))")!
    }

    @Test func startBuildsAnRFC7636AuthorizeURLAndPersistsTheSession() async throws {
        let store = MemoryStore()
        let broker = Fixtures.broker(store: store)
        let key = Fixtures.key(scopes: ["read", "write"])
        let request = try await broker.startAuthorization(
            for: key, redirectURI: Self.redirect, additionalParameters: ["prompt": "consent"])
        let query = Self.query(of: request.url)
        #expect(request.url.absoluteString.hasPrefix("https://idp.example.com/oauth/authorize?"))
        #expect(query["response_type"] == "code")
        #expect(query["client_id"] == "client-1")
        #expect(query["redirect_uri"] == Self.redirect)
        #expect(query["scope"] == "read write")
        #expect(query["code_challenge_method"] == "S256")
        #expect(query["prompt"] == "consent")
        #expect(query["code_challenge"]?.count == 43)
        let state = try #require(query["state"])
        #expect(state.count >= 43)
        // The verifier is not in the URL; it is in the store, and its S256 challenge is.
        let session = try #require(try await store.takeSession(id: request.sessionID))
        #expect(PKCE.challenge(for: session.codeVerifier) == query["code_challenge"])
        #expect(session.state == Secret(state))
        #expect(!request.url.absoluteString.contains(session.codeVerifier.revealedValue))
    }

    @Test("a callback completed by another broker sharing the store exchanges code and verifier once")
    func completeInAnotherBroker() async throws {
        let store = MemoryStore()
        let transport = FakeTransport()
        let starter = Fixtures.broker(store: store)
        let events = EventLog()
        let finisher = Fixtures.broker(store: store, transport: transport) { $0.onEvent = events.record }
        let key = Fixtures.key()
        let request = try await starter.startAuthorization(for: key, redirectURI: Self.redirect)
        let state = try #require(Self.query(of: request.url)["state"])
        let token = try await finisher.completeAuthorization(callbackURL: Self.callback(state: state))
        #expect(token.value == Secret("at-1"))
        #expect(token.key == key)
        let sent = try #require(transport.requests.first)
        #expect(sent.grantType == "authorization_code")
        #expect(sent.field("code") == "code-1")
        #expect(sent.field("redirect_uri") == Self.redirect)
        #expect(PKCE.isValidVerifier(sent.field("code_verifier") ?? ""))
        let stored = try #require(try await store.record(for: key))
        #expect(stored.refreshToken == Secret("rt-1"))
        #expect(events.all.map(\.kind) == [.issued])
        #expect(events.all.first?.grant == .authorizationCode)
        // Replaying the callback fails: sessions are single-use.
        await #expect(throws: BrokerError.invalidAuthorizationState) {
            try await finisher.completeAuthorization(callbackURL: Self.callback(state: state))
        }
        #expect(transport.requestCount == 1)
    }

    @Test("requiresPKCE false sends no code_challenge and no code_verifier; true (the default) sends both")
    func pkceCanBeTurnedOff() async throws {
        for requiresPKCE in [false, true] {
            let provider = try ProviderDescriptor(
                id: Fixtures.providerID, tokenEndpoint: URL(string: "https://idp.example.com/oauth/token")!,
                clientID: "client-1", clientSecret: Secret("s3cr3t-client"),
                grants: [.authorizationCode, .refreshToken],
                authorizationEndpoint: URL(string: "https://idp.example.com/oauth/authorize")!,
                requiresPKCE: requiresPKCE)
            let transport = FakeTransport()
            let broker = Fixtures.broker(provider: provider, transport: transport)
            let request = try await broker.startAuthorization(for: Fixtures.key(), redirectURI: Self.redirect)
            let query = Self.query(of: request.url)
            #expect((query["code_challenge"] != nil) == requiresPKCE)
            #expect((query["code_challenge_method"] != nil) == requiresPKCE)
            _ = try await broker.completeAuthorization(callbackURL: Self.callback(state: try #require(query["state"])))
            #expect((transport.requests.first?.field("code_verifier") != nil) == requiresPKCE)
        }
    }

    @Test func forgedStateIsRejectedWithoutARequest() async throws {
        let transport = FakeTransport()
        let broker = Fixtures.broker(transport: transport)
        let request = try await broker.startAuthorization(for: Fixtures.key(), redirectURI: Self.redirect)
        let state = try #require(Self.query(of: request.url)["state"])
        await #expect(throws: BrokerError.invalidAuthorizationState) {
            try await broker.completeAuthorization(code: "c", state: String(state.dropLast()) + "x")
        }
        await #expect(throws: BrokerError.invalidAuthorizationState) {
            try await broker.completeAuthorization(callbackURL: URL(string: "\(Self.redirect)?code=c")!)
        }
        #expect(transport.requestCount == 0)
        // The genuine callback still works after the forgeries.
        #expect(try await broker.completeAuthorization(code: "c", state: state).value == Secret("at-1"))
    }

    @Test func expiredSessionsAreRejected() async throws {
        let clock = TestClock()
        let broker = Fixtures.broker(clock: clock) { $0.authorizationSessionLifetime = .seconds(600) }
        let request = try await broker.startAuthorization(for: Fixtures.key(), redirectURI: Self.redirect)
        let state = try #require(Self.query(of: request.url)["state"])
        clock.advance(by: .seconds(601))
        await #expect(throws: BrokerError.authorizationSessionExpired) {
            try await broker.completeAuthorization(code: "c", state: state)
        }
    }

    @Test("access_denied in the callback is a typed error and consumes the session")
    func accessDenied() async throws {
        let transport = FakeTransport()
        let broker = Fixtures.broker(transport: transport)
        let request = try await broker.startAuthorization(for: Fixtures.key(), redirectURI: Self.redirect)
        let state = try #require(Self.query(of: request.url)["state"])
        let denied = URL(
            string: "\(Self.redirect)?error=access_denied&error_description=User+said+no&state=\(state)")!
        do {
            _ = try await broker.completeAuthorization(callbackURL: denied)
            Issue.record("should fail")
        } catch let error as BrokerError {
            #expect(error == .authorizationDenied)
            #expect(error.oauthError == .accessDenied)
            #expect(error.oauthErrorDescription == "User said no")
        }
        await #expect(throws: BrokerError.invalidAuthorizationState) {
            try await broker.completeAuthorization(code: "c", state: state)
        }
        #expect(transport.requestCount == 0)
    }

    @Test("completing a new authorization replaces a grant that needed re-authorization")
    func reauthorizationReplacesDeadGrant() async throws {
        let clock = TestClock()
        let store = MemoryStore()
        let key = Fixtures.key()
        try await Fixtures.seed(store, key: key, clock: clock)
        _ = try await store.setStatus(.needsReauthorization, for: key)
        let broker = Fixtures.broker(store: store, clock: clock)
        let request = try await broker.startAuthorization(for: key, redirectURI: Self.redirect)
        let state = try #require(Self.query(of: request.url)["state"])
        let token = try await broker.completeAuthorization(code: "c", state: state)
        let stored = try #require(try await store.record(for: key))
        #expect(stored.status == .active)
        #expect(stored.accessToken == token.value)
        #expect(try await broker.accessToken(for: key).value == token.value)
    }

    @Test func redirectURIsAndParametersAreValidated() async throws {
        let broker = Fixtures.broker()
        let key = Fixtures.key()
        await #expect(throws: BrokerError.invalidInput) {
            try await broker.startAuthorization(for: key, redirectURI: "http://app.example.com/cb")
        }
        await #expect(throws: BrokerError.invalidInput) {
            try await broker.startAuthorization(for: key, redirectURI: "https://app.example.com/cb#frag")
        }
        await #expect(throws: BrokerError.invalidInput) {
            try await broker.startAuthorization(
                for: key, redirectURI: Self.redirect, additionalParameters: ["state": "mine"])
        }
        let noCode = Fixtures.broker(provider: Fixtures.provider(grants: [.clientCredentials]))
        await #expect(throws: BrokerError.grantNotSupported) {
            try await noCode.startAuthorization(for: key, redirectURI: Self.redirect)
        }
    }
}

@Suite struct RevocationAndEventsTests {
    @Test func revokeMarksTheRecordCallsRFC7009AndStopsServing() async throws {
        let clock = TestClock()
        let store = MemoryStore()
        let key = Fixtures.key()
        try await Fixtures.seed(store, key: key, clock: clock)
        let transport = FakeTransport()
        let events = EventLog()
        let broker = Fixtures.broker(store: store, transport: transport, clock: clock) { $0.onEvent = events.record }
        #expect(try await broker.accessToken(for: key).value == Secret("at-seed"))
        #expect(try await broker.revoke(key))
        #expect(try await store.record(for: key)?.status == .revoked)
        let sent = try #require(transport.requests.last)
        #expect(sent.request.url.path == "/oauth/revoke")
        #expect(sent.field("token") == "rt-seed")
        #expect(sent.field("token_type_hint") == "refresh_token")
        #expect(events.count(.revoked) == 1)
        await #expect(throws: BrokerError.tokenRevoked) { try await broker.accessToken(for: key) }
        #expect(transport.requestCount == 1)
        // Revoking nothing succeeds and says so.
        #expect(try await broker.revoke(Fixtures.key(tenant: "nobody")) == false)
    }

    @Test("a failing revocation endpoint is reported after the record was revoked locally")
    func revocationEndpointFailure() async throws {
        let clock = TestClock()
        let store = MemoryStore()
        let key = Fixtures.key()
        try await Fixtures.seed(store, key: key, clock: clock)
        let transport = FakeTransport(
            responder: .init { _, _ in
                .response(
                    FakeTransport.rawResponse(status: 502, contentType: "text/html", body: "<h1>bad gateway</h1>"))
            })
        let broker = Fixtures.broker(store: store, transport: transport, clock: clock)
        await #expect(throws: BrokerError.providerUnavailable) { try await broker.revoke(key) }
        #expect(try await store.record(for: key)?.status == .revoked)
    }

    @Test func eventsStreamReportsIssueAndRefreshWithoutSecrets() async throws {
        let clock = TestClock()
        let transport = FakeTransport(responder: .issuingTokens(expiresIn: 100))
        let broker = Fixtures.broker(transport: transport, clock: clock) { $0.staleTokenBehavior = .waitForRefresh }
        let stream = broker.events()
        let key = Fixtures.key()
        _ = try await broker.accessToken(for: key)
        clock.advance(by: .seconds(200))
        _ = try await broker.accessToken(for: key)
        var received: [BrokerEvent] = []
        for await event in stream {
            received.append(event)
            if received.count == 2 { break }
        }
        #expect(received.map(\.kind) == [.issued, .issued])
        #expect(received.allSatisfy { $0.key == key && $0.grant == .clientCredentials })
        for event in received {
            #expect(!String(describing: event).contains("at-"))
        }
    }

    @Test func introspectionReadsRFC7662() async throws {
        let clock = TestClock()
        let store = MemoryStore()
        let key = Fixtures.key()
        try await Fixtures.seed(store, key: key, clock: clock)
        let transport = FakeTransport()
        transport.enqueue(
            .response(
                FakeTransport.jsonResponse(
                    status: 200,
                    object: ["active": true, "scope": "read", "client_id": "client-1", "exp": 1_900_000_000])))
        let broker = Fixtures.broker(store: store, transport: transport, clock: clock)
        let result = try await broker.introspect(key)
        #expect(result.isActive)
        #expect(result.scopes == ["read"])
        #expect(result.expiresAt == Date(timeIntervalSince1970: 1_900_000_000))
        #expect(transport.requests.first?.field("token") == "at-seed")
    }
}
