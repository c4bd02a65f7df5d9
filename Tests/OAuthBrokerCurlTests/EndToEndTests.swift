import Foundation
import OAuthBroker
import OAuthBrokerCurl
import OAuthBrokerTesting
import Testing

/// Every flow of the core, through `CurlTransport` over real HTTP on loopback, against `MockAuthorizationServer`.
@Suite struct EndToEndTests {
    static let clientID = "app client:1"
    static let clientSecret = "p@ss/w%rd+ &="

    struct Harness {
        let server: MockAuthorizationServer
        let store: MemoryStore
        let broker: Broker<CurlTransport, CurlErrorMapper>
        let provider: ProviderDescriptor
    }

    static func withHarness<T: Sendable>(
        auth: ProviderDescriptor.ClientAuthentication = .clientSecretBasic,
        server serverConfiguration: MockAuthorizationServer.Configuration = .init(),
        clock: TestClock? = nil,
        _ adjust: (inout BrokerConfiguration) -> Void = { _ in },
        _ body: (Harness) async throws -> T
    ) async throws -> T {
        try await MockAuthorizationServer.withRunningServer(configuration: serverConfiguration) { server in
            server.registerClient(id: clientID, secret: Secret(clientSecret), authenticationMethods: [auth])
            let provider = try ProviderDescriptor(
                id: ProviderID("mock"), tokenEndpoint: server.tokenEndpoint, clientID: clientID,
                clientSecret: Secret(clientSecret), clientAuthentication: auth,
                grants: [.clientCredentials, .refreshToken, .authorizationCode],
                authorizationEndpoint: server.authorizationEndpoint, revocationEndpoint: server.revocationEndpoint,
                introspectionEndpoint: server.introspectionEndpoint, allowsInsecureLoopback: true)
            var configuration = BrokerConfiguration()
            if let clock { configuration.clock = clock.brokerClock }
            adjust(&configuration)
            let store = MemoryStore()
            let broker = try Broker(provider: provider, store: store, configuration: configuration)
            return try await body(Harness(server: server, store: store, broker: broker, provider: provider))
        }
    }

    static func key(_ tenant: String = "tenant-a", scopes: [String] = []) -> StoreKey {
        try! StoreKey(provider: "mock", tenant: tenant, principal: "svc", scopes: scopes)
    }

    @Test(
        "client credentials on the wire",
        arguments: [
            ProviderDescriptor.ClientAuthentication.clientSecretBasic, .clientSecretPost,
        ])
    func clientCredentials(auth: ProviderDescriptor.ClientAuthentication) async throws {
        try await Self.withHarness(auth: auth) { h in
            let token = try await h.broker.accessToken(for: Self.key())
            #expect(h.server.isActive(accessToken: token.value))
            #expect(token.tokenType == "Bearer")
            #expect(h.server.statistics.requests(grant: .clientCredentials) == 1)
            #expect(h.server.statistics.requests(clientID: Self.clientID) == 1)
            // Cached afterwards.
            #expect(try await h.broker.accessToken(for: Self.key()) == token)
            #expect(h.server.statistics.requests(grant: .clientCredentials) == 1)
        }
    }

    @Test("wrong client credentials are a typed client rejection")
    func wrongSecret() async throws {
        try await MockAuthorizationServer.withRunningServer { server in
            server.registerClient(id: Self.clientID, secret: Secret("the-real-secret"))
            let provider = try ProviderDescriptor(
                id: ProviderID("mock"), tokenEndpoint: server.tokenEndpoint, clientID: Self.clientID,
                clientSecret: Secret("not-the-secret"), grants: [.clientCredentials], allowsInsecureLoopback: true)
            let broker = try Broker(provider: provider, store: MemoryStore())
            do {
                _ = try await broker.accessToken(for: Self.key())
                Issue.record("should fail")
            } catch let error as BrokerError {
                #expect(error == .clientRejected)
                #expect(error.status == 401)
                #expect(!String(reflecting: error).contains("not-the-secret"))
            }
        }
    }

    @Test("1000 concurrent callers across 50 keys: one request per key, one connection pool")
    func thousandCallersFiftyKeys() async throws {
        try await Self.withHarness { h in
            let tokens = try await withThrowingTaskGroup(of: (Int, Secret).self) { group in
                for caller in 0..<1000 {
                    group.addTask {
                        (caller % 50, try await h.broker.accessToken(for: Self.key("t\(caller % 50)")).value)
                    }
                }
                return try await group.reduce(into: [Int: Set<Secret>]()) { $0[$1.0, default: []].insert($1.1) }
            }
            #expect(tokens.count == 50)
            #expect(tokens.values.allSatisfy { $0.count == 1 })
            #expect(h.server.statistics.requests(grant: .clientCredentials) == 50)
            #expect(h.broker.transport.connectionsOpened <= 8)
        }
    }

    @Test("an expired token is refreshed once with rotation, and no family is revoked")
    func refreshWithRotation() async throws {
        try await Self.withHarness { h in
            let grant = try h.server.issueGrant(clientID: Self.clientID, scopes: ["read"])
            let key = Self.key(scopes: ["read"])
            let issued = Date().addingTimeInterval(-7200)
            let seeded = TokenRecord(
                accessToken: grant.accessToken, refreshToken: grant.refreshToken, scopes: ["read"], issuedAt: issued,
                expiresAt: issued.addingTimeInterval(3600), version: TokenRecord.initialVersion(at: issued))
            _ = try await h.store.insert(seeded, for: key)
            let tokens = try await withThrowingTaskGroup(of: Secret.self) { group in
                for _ in 0..<200 { group.addTask { try await h.broker.accessToken(for: key).value } }
                return try await group.reduce(into: Set<Secret>()) { $0.insert($1) }
            }
            #expect(tokens.count == 1)
            let stored = try #require(try await h.store.record(for: key))
            #expect(stored.refreshToken != grant.refreshToken)
            #expect(h.server.isActive(refreshToken: try #require(stored.refreshToken)))
            #expect(h.server.isActive(accessToken: stored.accessToken))
            #expect(!h.server.isActive(refreshToken: grant.refreshToken))
            #expect(h.server.statistics.requests(grant: .refreshToken) == 1)
            #expect(h.server.statistics.refreshTokenRotations == 1)
            #expect(h.server.statistics.familiesRevokedByReuseDetection == 0)
        }
    }

    @Test("a grant revoked at the provider ends in needs-reauthorization")
    func invalidGrantFromTheServer() async throws {
        try await Self.withHarness { h in
            let grant = try h.server.issueGrant(clientID: Self.clientID)
            let key = Self.key()
            let issued = Date().addingTimeInterval(-7200)
            _ = try await h.store.insert(
                TokenRecord(
                    accessToken: grant.accessToken, refreshToken: grant.refreshToken, issuedAt: issued,
                    expiresAt: issued.addingTimeInterval(60), version: TokenRecord.initialVersion(at: issued)),
                for: key)
            #expect(h.server.revokeFamily(of: grant.refreshToken))
            await #expect(throws: BrokerError.invalidGrant) { try await h.broker.refresh(key, force: true) }
            #expect(try await h.store.record(for: key)?.status == .needsReauthorization)
        }
    }

    @Test("authorization code + PKCE round trip, replay refused")
    func authorizationCode() async throws {
        try await Self.withHarness { h in
            let key = Self.key(scopes: ["profile"])
            let request = try await h.broker.startAuthorization(for: key, redirectURI: "http://127.0.0.1/callback")
            let callback = try await h.server.approve(authorizationURL: request.url)
            let token = try await h.broker.completeAuthorization(callbackURL: callback)
            #expect(h.server.isActive(accessToken: token.value))
            #expect(token.key == key)
            let stored = try #require(try await h.store.record(for: key))
            #expect(stored.refreshToken != nil)
            await #expect(throws: BrokerError.invalidAuthorizationState) {
                try await h.broker.completeAuthorization(callbackURL: callback)
            }
            #expect(h.server.statistics.requests(grant: .authorizationCode) == 1)
        }
    }

    @Test("a denied authorization is a typed error")
    func authorizationDenied() async throws {
        try await Self.withHarness { h in
            let request = try await h.broker.startAuthorization(for: Self.key(), redirectURI: "http://127.0.0.1/cb")
            let callback = try await h.server.deny(authorizationURL: request.url)
            await #expect(throws: BrokerError.authorizationDenied) {
                try await h.broker.completeAuthorization(callbackURL: callback)
            }
        }
    }

    @Test("revocation reaches RFC 7009; introspection (RFC 7662) then says inactive")
    func revokeAndIntrospect() async throws {
        try await Self.withHarness { h in
            let key = Self.key()
            let request = try await h.broker.startAuthorization(for: key, redirectURI: "http://127.0.0.1/callback")
            let token = try await h.broker.completeAuthorization(
                callbackURL: try await h.server.approve(authorizationURL: request.url))
            #expect(try await h.broker.introspect(key).isActive)
            #expect(try await h.broker.revoke(key))
            #expect(!h.server.isActive(accessToken: token.value))
            #expect(h.server.statistics.revocations == 1)
            #expect(try await h.broker.introspect(key).isActive == false)
            await #expect(throws: BrokerError.tokenRevoked) { try await h.broker.accessToken(for: key) }
        }
    }
}

extension EndToEndTests.Harness {
    /// Issues a grant at the mock and stores it for `key` as a record whose access token expired an hour before
    /// `now`, so the next acquisition refreshes.
    ///
    /// - Parameter now: The broker's current time (the harness's `TestClock`, when it has one).
    /// - Returns: The grant and the record as stored.
    func seedExpiredGrant(for key: StoreKey, now: Date = Date()) async throws -> (
        grant: MockAuthorizationServer.IssuedGrant, record: TokenRecord
    ) {
        try await server.seedExpiredGrant(clientID: EndToEndTests.clientID, in: store, for: key, now: now)
    }
}

/// Polls `condition` (bounded: at most ~10 s), sleeping 5 ms between polls.
func eventuallyTrue(_ condition: () async throws -> Bool) async rethrows -> Bool {
    for _ in 0..<2000 {
        if try await condition() { return true }
        try? await Task.sleep(for: .milliseconds(5))
    }
    return false
}
