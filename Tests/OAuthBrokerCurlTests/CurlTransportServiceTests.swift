import Foundation
import Logging
import OAuthBroker
import OAuthBrokerCurl
import OAuthBrokerTesting
import ServiceLifecycle
import Testing

@Suite struct CurlTransportServiceTests {
    @Test("graceful shutdown of a ServiceGroup stops the transport")
    func stopsWithTheGroup() async throws {
        try await MockAuthorizationServer.withRunningServer { server in
            server.registerClient(id: "svc", secret: Secret("svc-secret"))
            let transport = try CurlTransport()
            let provider = try ProviderDescriptor(
                id: ProviderID("mock"), tokenEndpoint: server.tokenEndpoint, clientID: "svc",
                clientSecret: Secret("svc-secret"), grants: [.clientCredentials], allowsInsecureLoopback: true)
            let broker = try Broker(
                provider: provider, store: MemoryStore(), transport: transport, errorMapper: CurlErrorMapper())
            let key = try broker.key(tenant: "t", principal: "p")
            let group = ServiceGroup(
                services: [transport], gracefulShutdownSignals: [],
                logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
            let running = Task { try await group.run() }
            _ = try await broker.accessToken(for: key)
            await group.triggerGracefulShutdown()
            try await running.value
            broker.evictCachedToken(for: key)
            let request = TransportRequest(url: server.tokenEndpoint, body: Data("grant_type=client_credentials".utf8))
            do {
                _ = try await transport.send(request)
                Issue.record("a stopped transport must refuse requests")
            } catch {
                #expect(CurlErrorMapper().mapTransportError(error, for: request) == .cancelled)
            }
            #expect(server.statistics.requests(to: .token) == 1)
        }
    }
}
