import Foundation
import OAuthBroker
import OAuthBrokerCurl
import Synchronization
import Testing

@Suite("Broker over CurlTransport and loopback HTTP", .timeLimit(.minutes(1)))
struct CurlBrokerTests {
    private static let tokenJSON = #"{"access_token":"at-loopback","token_type":"Bearer","expires_in":3600}"#

    private static func provider(_ server: LoopbackHTTPServer) throws -> ProviderDescriptor {
        try ProviderDescriptor(
            id: ProviderID("loopback"), tokenEndpoint: server.url("/token"), clientID: "client-1",
            clientSecret: Secret("client-secret-1"), clientAuthentication: .clientSecretBasic,
            grants: [.clientCredentials], allowsInsecureLoopback: true)
    }

    /// Sleeps recorded, returning at once.
    private final class InstantSleeps: Sendable {
        private let recorded = Mutex<[Duration]>([])
        var durations: [Duration] { recorded.withLock { $0 } }
        var clock: BrokerClock {
            BrokerClock(now: { Date() }, sleep: { [self] duration in recorded.withLock { $0.append(duration) } })
        }
    }

    @Test("Broker(provider:store:) fetches a client-credentials token through libcurl")
    func clientCredentials() async throws {
        let server = try await LoopbackHTTPServer.start { request in
            request.uri == "/token"
                ? .init(status: 200, headers: [("Content-Type", "application/json")], text: Self.tokenJSON)
                : .init(status: 404)
        }
        let store = MemoryStore()
        let broker = try Broker(provider: try Self.provider(server), store: store)
        defer { broker.transport.shutdown() }

        let key = try broker.key(tenant: "tenant-a", principal: "service", scopes: ["read", "write"])
        let token = try await broker.accessToken(for: key)
        #expect(token.value.revealedValue == "at-loopback")
        #expect(token.tokenType == "Bearer")
        #expect(try await store.record(for: key)?.accessToken.revealedValue == "at-loopback")

        let request = try #require(server.requests.first)
        #expect(server.requests.count == 1)
        #expect(request.method == "POST")
        let form = String(decoding: request.body, as: UTF8.self)
        #expect(form.contains("grant_type=client_credentials"))
        #expect(form.contains("scope=read%20write") || form.contains("scope=read+write"))
        let basic = Data("client-1:client-secret-1".utf8).base64EncodedString()
        #expect(request.headers["Authorization"] == ["Basic \(basic)"])
        #expect(broker.transport.connectionsOpened == 1)
        await server.shutdown()
    }

    @Test("a 429 with Retry-After is waited out, then the 200 is used")
    func retryAfterHonoured() async throws {
        let attempts = EventCounter()
        let server = try await LoopbackHTTPServer.start { _ in
            attempts.increment() == 1
                ? .init(
                    status: 429, headers: [("Retry-After", "1"), ("Content-Type", "text/html")], text: "<p>busy</p>")
                : .init(status: 200, headers: [("Content-Type", "application/json")], text: Self.tokenJSON)
        }
        let sleeps = InstantSleeps()
        var configuration = BrokerConfiguration()
        configuration.clock = sleeps.clock
        let broker = try Broker(provider: try Self.provider(server), store: MemoryStore(), configuration: configuration)
        defer { broker.transport.shutdown() }

        let token = try await broker.accessToken(for: try broker.key(tenant: "tenant-a", principal: "service"))
        #expect(token.value.revealedValue == "at-loopback")
        #expect(server.requests.count == 2)
        #expect(sleeps.durations == [.seconds(1)])
        #expect(server.acceptedConnections == 1)  // the 429's connection was reused for the retry
        await server.shutdown()
    }

    @Test("a redirecting token endpoint fails with .redirectRefused after one request")
    func redirectRefused() async throws {
        let server = try await LoopbackHTTPServer.start { request in
            request.uri == "/token"
                ? .init(status: 307, headers: [("Location", "/elsewhere")])
                : .init(status: 200, headers: [("Content-Type", "application/json")], text: Self.tokenJSON)
        }
        let broker = try Broker(provider: try Self.provider(server), store: MemoryStore())
        defer { broker.transport.shutdown() }
        let key = try broker.key(tenant: "tenant-a", principal: "service")
        await #expect(throws: BrokerError.redirectRefused) { try await broker.accessToken(for: key) }
        #expect(server.requests.map(\.uri) == ["/token"])
        await server.shutdown()
    }

    @Test("an unanswered token request fails with .timedOut after the configured attempts")
    func timeoutThroughBroker() async throws {
        let server = try await LoopbackHTTPServer.start { _ in
            try? await Task.sleep(for: .seconds(3600))
            return nil
        }
        var configuration = BrokerConfiguration()
        configuration.requestTimeout = .milliseconds(200)
        configuration.retry.maxAttempts = 2
        configuration.clock = InstantSleeps().clock
        let broker = try Broker(provider: try Self.provider(server), store: MemoryStore(), configuration: configuration)
        defer { broker.transport.shutdown() }
        let key = try broker.key(tenant: "tenant-a", principal: "service")
        await #expect(throws: BrokerError.timedOut) { try await broker.accessToken(for: key) }
        #expect(server.requests.count == 2)
        await server.shutdown()
    }
}
