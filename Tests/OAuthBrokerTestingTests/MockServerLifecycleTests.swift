import Foundation
import OAuthBroker
import OAuthBrokerTesting
import Testing

@Suite("Mock server: lifecycle, keep-alive and counters")
struct MockServerLifecycleTests {
    @Test("an ephemeral port is chosen and the endpoint URLs name it")
    func endpoints() async throws {
        try await withServer { server in
            #expect(server.port > 0)
            let base = "http://127.0.0.1:\(server.port)"
            #expect(server.baseURL.absoluteString == base)
            #expect(server.tokenEndpoint.absoluteString == base + "/token")
            #expect(server.authorizationEndpoint.absoluteString == base + "/authorize")
            #expect(server.revocationEndpoint.absoluteString == base + "/revoke")
            #expect(server.introspectionEndpoint.absoluteString == base + "/introspect")
        }
    }

    @Test("printing or dumping the server shows no token or secret")
    func redaction() async throws {
        try await withServer { server in
            let grant = try server.issueGrant(clientID: confidential.id)
            var dumped = ""
            dump(server, to: &dumped)
            let printed = [dumped, "\(server)", String(reflecting: server)]
            for text in printed {
                let leaks = [grant.accessToken.revealedValue, grant.refreshToken.revealedValue, confidential.secret]
                    .contains { text.contains($0) }
                #expect(!leaks)
                #expect(text.contains("127.0.0.1:\(server.port)"))
            }
        }
    }

    @Test("requests on one keep-alive connection count one connection")
    func keepAlive() async throws {
        try await withServer { server in
            let statuses = try await LoopbackConnection.with(port: server.port) { connection in
                var statuses: [Int] = []
                for _ in 0..<5 {
                    let response = try await connection.post(
                        server.tokenEndpoint, form: [("grant_type", "client_credentials")],
                        headers: [
                            (
                                "Authorization",
                                FormEncoding.basicAuthorization(
                                    clientID: confidential.id, clientSecret: Secret(confidential.secret))
                            )
                        ])
                    #expect(response.header("Connection") == "keep-alive")
                    statuses.append(response.status)
                }
                return statuses
            }
            #expect(statuses == [200, 200, 200, 200, 200])
            #expect(server.statistics.connectionsAccepted == 1)
            #expect(server.statistics.requests(to: .token) == 5)
            _ = try await clientCredentials(server)
            #expect(server.statistics.connectionsAccepted == 2)
        }
    }

    @Test("a request with Connection: close is answered and the connection closed")
    func connectionClose() async throws {
        try await withServer { server in
            try await LoopbackConnection.with(port: server.port) { connection in
                let response = try await connection.send(.GET, "/nothing", headers: [("Connection", "close")])
                #expect(response.status == 404)
                #expect(response.header("Connection") == "close")
                #expect(await connection.waitForClose())
            }
        }
    }

    @Test("counters per endpoint, grant type and client ID; reset clears them")
    func counters() async throws {
        try await withServer { server in
            server.registerClient(id: "second", secret: Secret("2"), tenant: "t2")
            _ = try await clientCredentials(server)
            _ = try await LoopbackHTTP.post(
                server.tokenEndpoint, form: [("grant_type", "client_credentials")], basic: ("second", "2"))
            let grant = try server.issueGrant(clientID: confidential.id)
            _ = try await refresh(server, grant.refreshToken.revealedValue)
            _ = try await LoopbackHTTP.post(
                server.introspectionEndpoint, form: [("token", grant.accessToken.revealedValue)], basic: confidential)
            _ = try await LoopbackHTTP.send(
                .GET, authorizationURL(server, clientID: "second", challenge: PKCE.challenge(for: PKCE.makeVerifier())))

            let statistics = server.statistics
            #expect(statistics.requests(to: .token) == 3)
            #expect(statistics.requests(to: .introspection) == 1)
            #expect(statistics.requests(to: .authorization) == 1)
            #expect(statistics.requests(to: .revocation) == 0)
            #expect(statistics.totalRequests == 5)
            #expect(statistics.requestsByGrantType == ["client_credentials": 2, "refresh_token": 1])
            #expect(statistics.requestsByClientID == [confidential.id: 3, "second": 2])
            #expect(statistics.requestsByTenant == ["t2": 2])
            #expect(statistics.connectionsAccepted == 5)
            #expect(statistics.accessTokensIssued == 4)

            server.resetStatistics()
            #expect(server.statistics == MockAuthorizationServer.Statistics())
        }
    }

    @Test("configured latency delays every response")
    func latency() async throws {
        try await withServer({ $0.latency = .milliseconds(150) }) { server in
            let start = ContinuousClock.now
            let response = try await clientCredentials(server)
            #expect(response.status == 200)
            #expect(start.duration(to: response.headArrival) >= .milliseconds(150))
            server.latency = .zero
            #expect(server.latency == .zero)
        }
    }

    @Test("shutdown closes open connections and the listener, and is idempotent")
    func shutdown() async throws {
        let server = try await MockAuthorizationServer.start()
        server.registerClient(id: confidential.id, secret: Secret(confidential.secret))
        let port = server.port
        try await LoopbackConnection.with(port: port) { connection in
            let response = try await connection.send(.GET, "/nothing")
            #expect(response.status == 404)
            try await server.shutdown()
            #expect(await connection.waitForClose())
        }
        try await server.shutdown()
        await #expect(throws: (any Error).self) { _ = try await LoopbackHTTP.send(.GET, server.tokenEndpoint) }
    }

    @Test("a port in use and an invalid configuration are invalidConfiguration errors")
    func startErrors() async throws {
        try await withServer { server in
            var configuration = MockAuthorizationServer.Configuration()
            configuration.port = server.port
            await #expect(throws: BrokerError.invalidConfiguration) {
                _ = try await MockAuthorizationServer.start(configuration: configuration)
            }
        }
        var negative = MockAuthorizationServer.Configuration()
        negative.accessTokenLifetime = .seconds(-1)
        await #expect(throws: BrokerError.invalidConfiguration) {
            _ = try await MockAuthorizationServer.start(configuration: negative)
        }
    }

    @Test("oversized request bodies are refused with 413")
    func requestTooLarge() async throws {
        try await withServer({ $0.maximumRequestBodySize = 1024 }) { server in
            let response = try await LoopbackHTTP.post(
                server.tokenEndpoint,
                form: [("grant_type", "client_credentials"), ("pad", String(repeating: "x", count: 2048))],
                basic: confidential)
            #expect(response.status == 413)
            #expect(server.statistics.accessTokensIssued == 0)
        }
    }
}
