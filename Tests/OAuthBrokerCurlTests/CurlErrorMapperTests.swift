import Foundation
import OAuthBroker
import OAuthBrokerCurl
import OAuthBrokerTesting
import Testing

@Suite("CurlErrorMapper", .timeLimit(.minutes(1)))
struct CurlErrorMapperTests {
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
