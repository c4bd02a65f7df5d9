import Foundation
import OAuthBroker

/// The broker-level checks: the core's fault handling through the transport, against real servers.
extension TransportConformance {
    private static var clientID: String { "app client:1" }
    private static var clientSecret: String { "p@ss/w%rd+ &=" }

    private static func key(_ tenant: String = "tenant-a") throws -> StoreKey {
        try StoreKey(provider: "mock", tenant: tenant, principal: "svc", scopes: [])
    }

    /// A mock authorization server, a broker over a new transport, and its store.
    private func withBroker(
        server serverConfiguration: MockAuthorizationServer.Configuration = .init(), settings: Settings = Settings(),
        _ adjust: (inout BrokerConfiguration) -> Void = { _ in },
        _ body: (MockAuthorizationServer, Broker<Transport, Mapper>, MemoryStore) async throws -> Void
    ) async throws {
        try await MockAuthorizationServer.withRunningServer(configuration: serverConfiguration) { server in
            server.registerClient(id: Self.clientID, secret: Secret(Self.clientSecret))
            let provider = try ProviderDescriptor(
                id: ProviderID("mock"), tokenEndpoint: server.tokenEndpoint, clientID: Self.clientID,
                clientSecret: Secret(Self.clientSecret), grants: [.clientCredentials, .refreshToken],
                allowsInsecureLoopback: true)
            var configuration = BrokerConfiguration()
            adjust(&configuration)
            let store = MemoryStore()
            let transport = try makeTransport(settings)
            do {
                let broker = try Broker(
                    provider: provider, store: store, transport: transport, errorMapper: errorMapper,
                    configuration: configuration)
                try await body(server, broker, store)
            } catch {
                await shutdown(transport)
                throw error
            }
            await shutdown(transport)
        }
    }

    /// A broker whose token endpoint is `server`'s `/token`.
    private func withLoopbackBroker(
        handler: @escaping LoopbackHTTPServer.Handler, _ adjust: (inout BrokerConfiguration) -> Void = { _ in },
        _ body: (LoopbackHTTPServer, Broker<Transport, Mapper>) async throws -> Void
    ) async throws {
        try await withServerAndTransport(handler: handler) { server, transport in
            let provider = try ProviderDescriptor(
                id: ProviderID("mock"), tokenEndpoint: server.url("/token"), clientID: "client-1",
                clientSecret: Secret("client-secret-1"), grants: [.clientCredentials], allowsInsecureLoopback: true)
            var configuration = BrokerConfiguration()
            adjust(&configuration)
            let broker = try Broker(
                provider: provider, store: MemoryStore(), transport: transport, errorMapper: errorMapper,
                configuration: configuration)
            try await body(server, broker)
        }
    }

    private static var tokenJSON: String { #"{"access_token":"at-loopback","token_type":"Bearer","expires_in":3600}"# }

    func brokerReusesConnection() async throws {
        try await withBroker { server, broker, _ in
            for tenant in 0..<30 { _ = try await broker.accessToken(for: try Self.key("seq\(tenant)")) }
            let requests = server.statistics.requests(grant: .clientCredentials)
            try expect(requests == 30, "\(requests) token requests")
            try expect(
                server.statistics.connectionsAccepted == 1, "\(server.statistics.connectionsAccepted) connections")
            try expectConnectionsOpened(broker.transport, { $0 == 1 }, "not one connection")
        }
    }

    func brokerRetryAfter() async throws {
        let clock = TestClock()
        try await withBroker({ $0.clock = clock.brokerClock }) { server, broker, _ in
            server.enqueue(.tooManyRequests(retryAfter: .seconds(3)))
            let token = try await broker.accessToken(for: try Self.key())
            try expect(server.isActive(accessToken: token.value), "the token is not the server's")
            try expect(clock.sleeps == [.seconds(3)], "sleeps \(clock.sleeps)")
            try expect(
                server.statistics.requests(to: .token) == 2, "\(server.statistics.requests(to: .token)) requests")
            try expect(server.statistics.connectionsAccepted == 1, "the 429's connection was not reused")
        }
    }

    func brokerRedirectRefused() async throws {
        let handler: LoopbackHTTPServer.Handler = { request in
            request.uri == "/token"
                ? .init(status: 307, headers: [("Location", "/elsewhere")])
                : .init(status: 200, headers: [("Content-Type", "application/json")], text: Self.tokenJSON)
        }
        try await withLoopbackBroker(handler: handler) { server, broker in
            let error = await thrownError { _ = try await broker.accessToken(for: try Self.key()) }
            try expect((error as? BrokerError) == .redirectRefused, "threw \(String(describing: error))")
            try expect(server.requests.map(\.uri) == ["/token"], "requests: \(server.requests.map(\.uri))")
        }
    }

    func brokerFaults() async throws {
        let clock = TestClock()
        try await withBroker(
            {
                $0.clock = clock.brokerClock
                $0.retry.maxAttempts = 1
                // Long enough for every answered fault on a loaded machine; the slow faults take twice as long.
                $0.requestTimeout = .seconds(4)
            }
        ) { server, broker, store in
            let cases: [(MockAuthorizationServer.Fault, BrokerError)] = [
                (.internalServerError, .providerUnavailable),
                (.malformedJSON, .malformedResponse),
                (.missingAccessToken, .malformedResponse),
                (.redirect(to: "http://127.0.0.1:1/elsewhere"), .redirectRefused),
                (.oversizedBody(byteCount: 2 << 20), .responseTooLarge),
                (.dropConnection, .transportFailed),
                (.slowResponse(delay: .seconds(8)), .timedOut),
                // The head arrives at once and the body stalls: the deadline covers the whole exchange.
                (.slowBody(delay: .seconds(8)), .timedOut),
            ]
            for (index, (fault, expected)) in cases.enumerated() {
                server.enqueue(fault)
                let key = try Self.key("fault\(index)")
                let error = await thrownError { _ = try await broker.accessToken(for: key) }
                let seen = server.statistics
                try expect(
                    (error as? BrokerError) == expected,
                    "\(fault) gave \(String(describing: error)) (the server saw \(seen.totalRequests) requests on "
                        + "\(seen.connectionsAccepted) connections, injected \(seen.faultsInjected) faults)")
                try expect(try await store.record(for: key) == nil, "\(fault) left a record")
            }
        }
    }

    func brokerConnectionRefused() async throws {
        let closed = try ReservedClosedPort()
        let transport = try makeTransport(Settings())
        let provider = try ProviderDescriptor(
            id: ProviderID("mock"), tokenEndpoint: closed.url("/token"), clientID: "c", clientSecret: Secret("s"),
            grants: [.clientCredentials], allowsInsecureLoopback: true)
        var configuration = BrokerConfiguration()
        configuration.clock = TestClock().brokerClock
        let broker = try Broker(
            provider: provider, store: MemoryStore(), transport: transport, errorMapper: errorMapper,
            configuration: configuration)
        let error = await thrownError { _ = try await broker.accessToken(for: try Self.key()) }
        await shutdown(transport)
        let brokerError = try require(error as? BrokerError, "threw \(String(describing: error))")
        try expect(brokerError == .connectionFailed, "threw \(brokerError)")
        try expect(brokerError.isTransient, "not transient")
        withExtendedLifetime(closed) {}
    }

    func brokerTimeout() async throws {
        let silent: LoopbackHTTPServer.Handler = { _ in
            try? await Task.sleep(for: .seconds(3600))
            return nil
        }
        let adjust: (inout BrokerConfiguration) -> Void = {
            // Each attempt must reach the silent server before it times out; on a loaded machine a new connection
            // (the timed-out one is closed) can take longer than a few hundred milliseconds.
            $0.requestTimeout = .seconds(1)
            $0.retry.maxAttempts = 2
            $0.clock = TestClock().brokerClock
        }
        try await withLoopbackBroker(handler: silent, adjust) { server, broker in
            let error = await thrownError { _ = try await broker.accessToken(for: try Self.key()) }
            try expect((error as? BrokerError) == .timedOut, "threw \(String(describing: error))")
            try expect(server.requests.count == 2, "\(server.requests.count) requests")
        }
    }

    func brokerCancellation() async throws {
        var serverConfiguration = MockAuthorizationServer.Configuration()
        serverConfiguration.latency = .milliseconds(300)
        try await withBroker(server: serverConfiguration) { server, broker, store in
            let key = try Self.key()
            let caller = Task { try await broker.accessToken(for: key) }
            try expect(await eventually { broker.inFlightCount == 1 }, "the request never started")
            caller.cancel()
            let error = await thrownError { _ = try await caller.value }
            try expect(error is CancellationError, "the caller got \(String(describing: error))")
            let stored = try await eventually { try await store.record(for: key) != nil }
            try expect(stored, "the shared request did not finish and store its token")
            let requests = server.statistics.requests(grant: .clientCredentials)
            try expect(requests == 1, "\(requests) token requests")
        }
    }
}
