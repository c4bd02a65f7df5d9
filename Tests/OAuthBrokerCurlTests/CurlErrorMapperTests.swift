import Foundation
import OAuthBroker
import OAuthBrokerCurl
import OAuthBrokerTesting
import Testing

@Suite("CurlErrorMapper", .timeLimit(.minutes(1)))
struct CurlErrorMapperTests {
    /// A server that accepts the connection and reads the request but never answers.
    private static let silent: LoopbackHTTPServer.Handler = { _ in
        try? await Task.sleep(for: .seconds(3600))
        return nil
    }

    @Test("a server that never answers times out (.timedOut), by request or by configuration")
    func timeout() async throws {
        var configuration = CurlTransport.Configuration()
        // Generous enough that a loaded machine's server has read each request before the client gives up.
        configuration.requestTimeout = .seconds(3)
        try await withServerAndTransport(configuration: configuration, handler: Self.silent) { server, transport in
            for request in [
                formPost(server.url("/token")),  // the configuration's 3 s
                formPost(server.url("/token"), timeout: .seconds(2)),
            ] {
                let error = await thrownError { _ = try await transport.send(request) }
                #expect((error as? CurlError)?.curlCode == 28)
                #expect(mappedCode(error, for: request) == .timedOut)
            }
            #expect(server.requests.count == 2)
        }
    }

    @Test("a closed port is .connectionFailed")
    func connectionRefused() async throws {
        // A port that refuses connections and that no parallel test can take meanwhile.
        let closed = try ReservedClosedPort()
        let url = closed.url("/token")
        let transport = try CurlTransport()
        defer { transport.shutdown() }
        let request = formPost(url)
        let error = await thrownError { _ = try await transport.send(request) }
        #expect((error as? CurlError)?.curlCode == 7)
        #expect(mappedCode(error, for: request) == .connectionFailed)
        let mapped = CurlErrorMapper().mapTransportError(try #require(error), for: request)
        #expect(mapped.message.contains("127.0.0.1"))
        #expect(!mapped.message.contains("/token"))
        withExtendedLifetime(closed) {}
    }

    @Test(
        "schemes other than http and https are refused (.invalidConfiguration)", arguments: ["ftp", "file", "gopher"])
    func nonHTTPSchemeRefused(scheme: String) async throws {
        try await withServerAndTransport(handler: { _ in .init(status: 200) }) { server, transport in
            let url =
                scheme == "file"
                ? URL(string: "file:///etc/hostname")! : URL(string: "\(scheme)://127.0.0.1:\(server.port)/token")!
            let request = TransportRequest(method: "GET", url: url)
            let error = await thrownError { _ = try await transport.send(request) }
            #expect((error as? CurlError)?.curlCode == 1)  // CURLE_UNSUPPORTED_PROTOCOL
            #expect(mappedCode(error, for: request) == .invalidConfiguration)
            #expect(server.acceptedConnections == 0)
        }
    }

    @Test("a TLS handshake with a plain-HTTP server is .tlsFailure")
    func tlsFailure() async throws {
        try await withServerAndTransport(handler: { _ in .init(status: 200) }) { server, transport in
            let request = formPost(URL(string: "https://127.0.0.1:\(server.port)/token")!)
            let error = await thrownError { _ = try await transport.send(request) }
            #expect((error as? CurlError)?.curlCode == 35)  // CURLE_SSL_CONNECT_ERROR
            #expect(mappedCode(error, for: request) == .tlsFailure)
        }
    }

    @Test(
        "each CURLcode maps to its BrokerError code",
        arguments: [
            (6, BrokerError.Code.dnsFailure), (5, .dnsFailure), (7, .connectionFailed), (28, .timedOut),
            (35, .tlsFailure), (60, .tlsFailure), (58, .tlsFailure), (77, .tlsFailure), (90, .tlsFailure),
            (63, .responseTooLarge), (1, .invalidConfiguration), (3, .invalidConfiguration), (42, .cancelled),
            (52, .transportFailed), (55, .transportFailed), (56, .transportFailed), (18, .transportFailed),
        ])
    func curlCodes(code: Int, expected: BrokerError.Code) throws {
        let request = formPost(URL(string: "https://idp.example/token?secret=s3cr3t")!)
        let error = CurlError(.curl, curlCode: code, message: "libcurl said no (host idp.example)")
        let mapped = CurlErrorMapper().mapTransportError(error, for: request)
        #expect(mapped.code == expected)
        #expect(mapped.underlying as? CurlError == error)
        #expect(!mapped.description.contains("s3cr3t"))
    }

    @Test("transport-detected failures, cancellation and foreign errors map to their codes")
    func otherErrors() {
        let request = formPost(URL(string: "https://idp.example/token")!)
        let mapper = CurlErrorMapper()
        #expect(
            mapper.mapTransportError(CurlError(.responseTooLarge, message: "m"), for: request).code == .responseTooLarge
        )
        #expect(mapper.mapTransportError(CurlError(.shutDown, message: "m"), for: request).code == .cancelled)
        #expect(mapper.mapTransportError(CurlError(.invalidRequest, message: "m"), for: request).code == .invalidInput)
        #expect(mapper.mapTransportError(CancellationError(), for: request).code == .cancelled)
        #expect(mapper.mapTransportError(BrokerError.rateLimited, for: request).code == .rateLimited)
        #expect(mapper.mapTransportError(URLError(.badURL), for: request).code == .transportFailed)
    }
}
