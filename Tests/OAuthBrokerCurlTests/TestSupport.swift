import Foundation
import OAuthBroker
import OAuthBrokerCurl
import OAuthBrokerTesting
import Testing

/// Starts a loopback server and a transport, runs `body`, and stops both whatever happens.
func withServerAndTransport(
    configuration: CurlTransport.Configuration = CurlTransport.Configuration(),
    handler: @escaping LoopbackHTTPServer.Handler,
    _ body: (LoopbackHTTPServer, CurlTransport) async throws -> Void
) async throws {
    let server = try await LoopbackHTTPServer.start(handler: handler)
    let transport = try CurlTransport(configuration: configuration)
    do {
        try await body(server, transport)
    } catch {
        transport.shutdown()
        await server.shutdown()
        throw error
    }
    transport.shutdown()
    await server.shutdown()
}

/// The mapper's code for what the transport threw.
func mappedCode(_ error: (any Error)?, for request: TransportRequest) -> BrokerError.Code? {
    error.map { CurlErrorMapper().mapTransportError($0, for: request).code }
}
