import Foundation
import NIOHTTP1
import OAuthBroker
import OAuthBrokerTesting
import Testing

/// A ``TokenTransport`` over the loopback test client (one connection per request), so the broker's own flows can
/// run against the mock server without the curl transport.
struct LoopbackTransport: TokenTransport {
    func send(_ request: TransportRequest) async throws -> TransportResponse {
        do {
            let response = try await LoopbackHTTP.send(
                HTTPMethod(rawValue: request.method), request.url,
                headers: request.headers.map { ($0.name, $0.value) }, body: Array(request.body))
            return TransportResponse(
                status: response.status,
                headers: TransportHeaders(response.headers.map { TransportHeaders.Field(name: $0.0, value: $0.1) }),
                body: Data(response.body))
        } catch LoopbackError.connectionClosed {
            throw BrokerError(.transportFailed, "the server closed the connection without a response")
        }
    }
}

@Suite("Mock server driven by a Broker")
struct MockServerBrokerTests {
    private func makeBroker(
        _ server: MockAuthorizationServer, clientID: String = confidential.id, secret: String = confidential.secret,
        authentication: ProviderDescriptor.ClientAuthentication = .clientSecretBasic,
        grants: Set<ProviderDescriptor.Grant>, clock: TestClock = TestClock()
    ) throws -> Broker<LoopbackTransport, PassthroughErrorMapper> {
        let provider = try ProviderDescriptor(
            id: ProviderID("mock"), tokenEndpoint: server.tokenEndpoint, clientID: clientID,
            clientSecret: Secret(secret), clientAuthentication: authentication, grants: grants,
            authorizationEndpoint: server.authorizationEndpoint, revocationEndpoint: server.revocationEndpoint,
            introspectionEndpoint: server.introspectionEndpoint, allowsInsecureLoopback: true)
        var configuration = BrokerConfiguration()
        configuration.clock = clock.brokerClock
        return try Broker(
            provider: provider, store: MemoryStore(now: { clock.now }), transport: LoopbackTransport(),
            errorMapper: PassthroughErrorMapper(), configuration: configuration)
    }

    @Test("authorization code with PKCE, forced refresh, introspection and revocation through the broker")
    func authorizationCodeLifecycle() async throws {
        try await withServer { server in
            let broker = try makeBroker(server, grants: [.authorizationCode, .refreshToken])
            let key = try broker.key(tenant: "acme", principal: "alice", scopes: ["read"])
            let request = try await broker.startAuthorization(for: key, redirectURI: "http://127.0.0.1:9/callback")
            let callback = try await server.approve(authorizationURL: request.url)
            let token = try await broker.completeAuthorization(callbackURL: callback)
            #expect(server.isActive(accessToken: token.value))
            #expect(token.scopes == ["read"])

            let refreshed = try await broker.refresh(key, force: true)
            #expect(refreshed.value != token.value)
            #expect(server.statistics.refreshTokenRotations == 1)

            let introspection = try await broker.introspect(key)
            #expect(introspection.isActive)
            #expect(introspection.clientID == confidential.id)
            #expect(introspection.subject == "mock-user")

            try await broker.revoke(key)
            #expect(!server.isActive(accessToken: refreshed.value))
            #expect(server.statistics.revocations == 1)
        }
    }

    @Test("a denied authorization surfaces as authorizationDenied")
    func denied() async throws {
        try await withServer { server in
            let broker = try makeBroker(server, grants: [.authorizationCode])
            let key = try broker.key(tenant: "acme", principal: "bob")
            let request = try await broker.startAuthorization(for: key, redirectURI: "http://127.0.0.1:9/callback")
            let callback = try await server.deny(authorizationURL: request.url)
            await #expect(throws: BrokerError.authorizationDenied) {
                _ = try await broker.completeAuthorization(callbackURL: callback)
            }
        }
    }

    @Test(
        "client credentials with form-encoded credentials, retried after a 429 honouring Retry-After",
        arguments: [ProviderDescriptor.ClientAuthentication.clientSecretBasic, .clientSecretPost])
    func clientCredentialsRetry(authentication: ProviderDescriptor.ClientAuthentication) async throws {
        try await withServer { server in
            server.registerClient(id: "a:b c", secret: Secret("p@ss/w%rd"))
            let clock = TestClock()
            let broker = try makeBroker(
                server, clientID: "a:b c", secret: "p@ss/w%rd", authentication: authentication,
                grants: [.clientCredentials], clock: clock)
            server.enqueue(.tooManyRequests(retryAfter: .seconds(2)))
            let token = try await broker.accessToken(for: try broker.key(tenant: "acme", principal: "service"))
            #expect(server.isActive(accessToken: token.value))
            #expect(clock.sleeps == [.seconds(2)])
            #expect(server.statistics.requests(grant: .clientCredentials) == 2)
            #expect(server.statistics.requests(clientID: "a:b c") == 2)
        }
    }

    @Test("a grant seeded with issueGrant and revoked by reuse detection makes the broker report invalidGrant")
    func seededGrantReuse() async throws {
        try await withServer { server in
            let clock = TestClock()
            let broker = try makeBroker(server, grants: [.refreshToken], clock: clock)
            let key = try broker.key(tenant: "acme", principal: "carol")
            let grant = try server.issueGrant(clientID: confidential.id)
            // Someone else rotated the refresh token the broker will present.
            let stolen = try await refresh(server, grant.refreshToken.revealedValue)
            #expect(stolen.status == 200)
            _ = try await broker.store.insert(
                TokenRecord(
                    accessToken: grant.accessToken, refreshToken: grant.refreshToken,
                    issuedAt: clock.now.addingTimeInterval(-3600), expiresAt: clock.now.addingTimeInterval(-1)),
                for: key)
            await #expect(throws: BrokerError.invalidGrant) { _ = try await broker.accessToken(for: key) }
            #expect(server.statistics.familiesRevokedByReuseDetection == 1)
        }
    }
}
