import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import OAuthBroker
import OAuthBrokerAsyncHTTPClient
import OAuthBrokerCurl
import OAuthBrokerTesting
import ServiceLifecycle
import Testing

/// Applies the conformance suite's settings to a configuration.
func configuration(_ settings: TransportConformance<AsyncHTTPClientTransport, AsyncHTTPClientErrorMapper>.Settings)
    -> AsyncHTTPClientTransport.Configuration
{
    var configuration = AsyncHTTPClientTransport.Configuration()
    if let value = settings.requestTimeout { configuration.requestTimeout = value }
    if let value = settings.maximumResponseBodyBytes { configuration.maximumResponseBodyBytes = value }
    if let value = settings.maximumConnectionsPerHost { configuration.maximumConnectionsPerHost = value }
    if let value = settings.connectTimeout { configuration.connectTimeout = value }
    if let value = settings.userAgent { configuration.userAgent = value }
    configuration.caBundlePath = settings.caBundlePath
    return configuration
}

/// The transport contract shared with the curl transport, over a transport that owns its client.
@Suite("AsyncHTTPClientTransport: the transport conformance suite", .timeLimit(.minutes(2)))
struct AsyncHTTPClientConformanceTests {
    static let suite = TransportConformance<AsyncHTTPClientTransport, AsyncHTTPClientErrorMapper>(
        makeTransport: { settings in try AsyncHTTPClientTransport(configuration: configuration(settings)) },
        errorMapper: AsyncHTTPClientErrorMapper(),
        connectionsOpened: { $0.connectionsOpened },
        shutdown: { try? await $0.shutdown() })

    @Test(arguments: TransportConformanceCheck.all)
    func conformance(_ check: TransportConformanceCheck) async throws {
        try await Self.suite.run(check)
    }
}

@Suite("AsyncHTTPClientTransport", .timeLimit(.minutes(1)))
struct AsyncHTTPClientTransportTests {
    @Test("the default User-Agent is the curl transport's")
    func defaultUserAgent() {
        #expect(AsyncHTTPClientTransport.Configuration.defaultUserAgent == CurlTransport.Configuration.defaultUserAgent)
    }

    @Test("an invalid configuration is rejected with .invalidConfiguration")
    func invalidConfigurationRejected() {
        var tooSmall = AsyncHTTPClientTransport.Configuration()
        tooSmall.maximumResponseBodyBytes = 0
        #expect(throws: BrokerError.invalidConfiguration) { try AsyncHTTPClientTransport(configuration: tooSmall) }
        var missingBundle = AsyncHTTPClientTransport.Configuration()
        missingBundle.caBundlePath = "/nonexistent/ca.pem"
        #expect(throws: BrokerError.invalidConfiguration) {
            try AsyncHTTPClientTransport(configuration: missingBundle)
        }
        var badAgent = AsyncHTTPClientTransport.Configuration()
        badAgent.userAgent = "a\r\nX-Injected: 1"
        #expect(throws: BrokerError.invalidConfiguration) { try AsyncHTTPClientTransport(configuration: badAgent) }
        var keyOnly = AsyncHTTPClientTransport.Configuration()
        keyOnly.clientKeyPath = "/etc/hostname"
        #expect(throws: BrokerError.invalidConfiguration) { try AsyncHTTPClientTransport(configuration: keyOnly) }
    }

    @Test("transport-detected failures carry their kinds")
    func kinds() async throws {
        let server = try await LoopbackHTTPServer.start { _ in
            .init(status: 200, body: Array(repeating: UInt8(ascii: "x"), count: 4096))
        }
        var settings = AsyncHTTPClientTransport.Configuration()
        settings.maximumResponseBodyBytes = 1024
        let transport = try AsyncHTTPClientTransport(configuration: settings)
        let big = await thrownError { _ = try await transport.send(post(server.url("/big"))) }
        #expect((big as? AsyncHTTPClientError)?.kind == .responseTooLarge)
        var request = post(server.url("/token"))
        request.headers.add(name: "X-Evil", value: "a\nInjected: yes")
        let injected = await thrownError { _ = try await transport.send(request) }
        #expect((injected as? AsyncHTTPClientError)?.kind == .invalidRequest)
        let ftp = TransportRequest(url: URL(string: "ftp://127.0.0.1:\(server.port)/x")!)
        let scheme = await thrownError { _ = try await transport.send(ftp) }
        #expect((scheme as? AsyncHTTPClientError)?.kind == .unsupportedURL)
        #expect(AsyncHTTPClientErrorMapper().mapTransportError(scheme!, for: ftp) == .invalidConfiguration)
        try await transport.shutdown()
        try await transport.shutdown()  // a second call does nothing
        let later = await thrownError { _ = try await transport.send(post(server.url("/token"))) }
        #expect((later as? AsyncHTTPClientError)?.kind == .shutDown)
        #expect(server.acceptedConnections == 1)
        await server.shutdown()
    }

    @Test("a wrapped client is used, not shut down by the transport, and its connections are not counted")
    func wrappedClient() async throws {
        let server = try await LoopbackHTTPServer.start { _ in .init(status: 200, text: "ok") }
        let client = HTTPClient(
            eventLoopGroup: MultiThreadedEventLoopGroup.singleton,
            configuration: HTTPClient.Configuration(redirectConfiguration: .disallow))
        let transport = try AsyncHTTPClientTransport(wrappingClientWithRedirectsDisabled: client)
        #expect(!transport.ownsClient)
        let response = try await transport.send(post(server.url("/token")))
        #expect(response.status == 200)
        #expect(transport.connectionsOpened == nil)
        try await transport.shutdown()
        await #expect(throws: AsyncHTTPClientError.self) { try await transport.send(post(server.url("/token"))) }
        // The client still works: it is the caller's to shut down.
        let direct = try await client.execute(
            HTTPClientRequest(url: server.url("/direct").absoluteString), timeout: .seconds(5))
        #expect(direct.status == .ok)
        try await client.shutdown()
        #expect(server.requests.map(\.uri) == ["/token", "/direct"])
        await server.shutdown()
    }

    @Test("a wrapped client that follows redirects anyway: the response is refused (.redirectRefused)")
    func wrappedClientFollowingRedirects() async throws {
        let server = try await LoopbackHTTPServer.start { request in
            request.uri == "/start"
                ? .init(status: 302, headers: [("Location", "/elsewhere")]) : .init(status: 200, text: "followed")
        }
        let client = HTTPClient(
            eventLoopGroup: MultiThreadedEventLoopGroup.singleton,
            configuration: HTTPClient.Configuration(redirectConfiguration: .follow(max: 3, allowCycles: false)))
        let transport = try AsyncHTTPClientTransport(wrappingClientWithRedirectsDisabled: client)
        let request = TransportRequest(method: "GET", url: server.url("/start"))
        let error = await thrownError { _ = try await transport.send(request) }
        #expect((error as? AsyncHTTPClientError)?.kind == .redirectFollowed)
        #expect(AsyncHTTPClientErrorMapper().mapTransportError(error!, for: request) == .redirectRefused)
        try await client.shutdown()
        await server.shutdown()
    }

    @Test("graceful shutdown of a ServiceGroup stops the transport and its owned client")
    func stopsWithTheGroup() async throws {
        try await MockAuthorizationServer.withRunningServer { server in
            server.registerClient(id: "svc", secret: Secret("svc-secret"))
            let provider = try ProviderDescriptor(
                id: ProviderID("mock"), tokenEndpoint: server.tokenEndpoint, clientID: "svc",
                clientSecret: Secret("svc-secret"), grants: [.clientCredentials], allowsInsecureLoopback: true)
            let broker = try Broker(
                provider: provider, store: MemoryStore(), asyncHTTPClientConfiguration: .init())
            let transport = broker.transport
            let key = try broker.key(tenant: "t", principal: "p")
            let group = ServiceGroup(
                services: [transport], gracefulShutdownSignals: [],
                logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
            let running = Task { try await group.run() }
            _ = try await broker.accessToken(for: key)
            await group.triggerGracefulShutdown()
            try await running.value
            let request = TransportRequest(url: server.tokenEndpoint, body: Data("grant_type=client_credentials".utf8))
            let error = await thrownError { _ = try await transport.send(request) }
            #expect(AsyncHTTPClientErrorMapper().mapTransportError(error!, for: request) == .cancelled)
            #expect(server.statistics.requests(to: .token) == 1)
        }
    }

    @Test("NIO and NIOSSL errors map to curl's codes for the same faults")
    func classification() {
        let request = TransportRequest(url: URL(string: "https://idp.example/token?secret=s3cr3t")!)
        let mapper = AsyncHTTPClientErrorMapper()
        let cases: [(any Error, BrokerError.Code)] = [
            (IOError(errnoCode: ECONNREFUSED, reason: "connect"), .connectionFailed),
            (IOError(errnoCode: ECONNRESET, reason: "read"), .transportFailed),
            (HTTPClientError.connectTimeout, .timedOut),
            (HTTPClientError.deadlineExceeded, .timedOut),
            (HTTPClientError.readTimeout, .timedOut),
            (HTTPClientError.remoteConnectionClosed, .transportFailed),
            (HTTPClientError.alreadyShutdown, .cancelled),
            (HTTPClientError.unsupportedScheme("ftp"), .invalidConfiguration),
            (NIOTooManyBytesError(maxBytes: 1), .responseTooLarge),
            (NIOSSLError.handshakeFailed(.sslError([])), .tlsFailure),
            (NIOSSLExtraError.failedToValidateHostname, .tlsFailure),
            (NIOSSLError.uncleanShutdown, .transportFailed),
            (ChannelError.connectTimeout(.seconds(1)), .timedOut),
            (CancellationError(), .cancelled),
            (BrokerError.rateLimited, .rateLimited),
            (URLError(.badURL), .transportFailed),
        ]
        for (error, code) in cases {
            let mapped = mapper.mapTransportError(error, for: request)
            #expect(mapped.code == code, "\(error)")
            #expect(!String(reflecting: mapped).contains("s3cr3t"))
        }
    }
}

private func post(_ url: URL) -> TransportRequest {
    TransportRequest(
        url: url, headers: ["Content-Type": "application/x-www-form-urlencoded"],
        body: Data("grant_type=client_credentials".utf8))
}
