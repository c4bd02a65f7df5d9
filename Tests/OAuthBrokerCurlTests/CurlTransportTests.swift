import Foundation
import OAuthBroker
import OAuthBrokerCurl
import OAuthBrokerTesting
import Testing

/// The transport contract, shared with every transport (`TransportConformance`), run over `CurlTransport`.
@Suite("CurlTransport: the transport conformance suite", .timeLimit(.minutes(2)))
struct CurlTransportConformanceTests {
    static let suite = TransportConformance<CurlTransport, CurlErrorMapper>(
        makeTransport: { settings in
            var configuration = CurlTransport.Configuration()
            if let value = settings.requestTimeout { configuration.requestTimeout = value }
            if let value = settings.maximumResponseBodyBytes { configuration.maximumResponseBodyBytes = value }
            if let value = settings.maximumConnectionsPerHost { configuration.maximumConnectionsPerHost = value }
            if let value = settings.connectTimeout { configuration.connectTimeout = value }
            if let value = settings.userAgent { configuration.userAgent = value }
            configuration.caBundlePath = settings.caBundlePath
            return try CurlTransport(configuration: configuration)
        },
        errorMapper: CurlErrorMapper(),
        connectionsOpened: { $0.connectionsOpened },
        shutdown: { $0.shutdown() })

    @Test(arguments: TransportConformanceCheck.all)
    func conformance(_ check: TransportConformanceCheck) async throws {
        try await Self.suite.run(check)
    }
}

/// What only the curl transport has: libcurl's own error kinds, its configuration checks, its version.
@Suite("CurlTransport over loopback HTTP", .timeLimit(.minutes(1)))
struct CurlTransportTests {
    @Test("the default User-Agent names this release")
    func defaultUserAgent() {
        #expect(CurlTransport.Configuration.defaultUserAgent == "swift-oauth-broker/\(swiftOAuthBrokerVersion)")
    }

    @Test("transport-detected failures carry curl's own kinds")
    func curlKinds() async throws {
        var configuration = CurlTransport.Configuration()
        configuration.maximumResponseBodyBytes = 1024
        let handler: LoopbackHTTPServer.Handler = { _ in
            .init(status: 200, body: Array(repeating: UInt8(ascii: "x"), count: 4096))
        }
        try await withServerAndTransport(configuration: configuration, handler: handler) { server, transport in
            let big = await thrownError { _ = try await transport.send(formPost(server.url("/big"))) }
            #expect((big as? CurlError)?.kind == .responseTooLarge)
            var request = formPost(server.url("/token"))
            request.headers.add(name: "X-Evil", value: "a\r\nInjected: yes")
            let injected = await thrownError { _ = try await transport.send(request) }
            #expect((injected as? CurlError)?.kind == .invalidRequest)
            transport.shutdown()
            let later = await thrownError { _ = try await transport.send(formPost(server.url("/token"))) }
            #expect((later as? CurlError)?.kind == .shutDown)
        }
    }

    @Test("an invalid configuration is rejected with .invalidConfiguration")
    func invalidConfigurationRejected() {
        var tooSmall = CurlTransport.Configuration()
        tooSmall.maximumResponseBodyBytes = 0
        #expect(throws: BrokerError.invalidConfiguration) { try CurlTransport(configuration: tooSmall) }

        var missingBundle = CurlTransport.Configuration()
        missingBundle.caBundlePath = "/nonexistent/ca.pem"
        #expect(throws: BrokerError.invalidConfiguration) { try CurlTransport(configuration: missingBundle) }

        var badAgent = CurlTransport.Configuration()
        badAgent.userAgent = "a\r\nX-Injected: 1"
        #expect(throws: BrokerError.invalidConfiguration) { try CurlTransport(configuration: badAgent) }

        var limits = CurlTransport.Configuration()
        limits.maximumConnections = 2
        limits.maximumConnectionsPerHost = 4
        #expect(throws: BrokerError.invalidConfiguration) { try CurlTransport(configuration: limits) }
    }

    @Test("libcurl's version is reported")
    func libcurlVersion() {
        #expect(CurlTransport.libcurlVersion.hasPrefix("libcurl/"))
    }
}
