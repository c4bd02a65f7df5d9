// Bring your own HTTP client: a TokenTransport over URLSession, a TransportErrorMapper for its errors, and a
// logging decorator composed around it. The broker is generic over both, so calls stay direct.
//
//   swift run --package-path Examples CustomTransport
import Foundation
import OAuthBroker
import OAuthBrokerTesting

@main
struct CustomTransport {
    static func main() async throws {
        let server = try await MockAuthorizationServer.start()
        do {
            try await run(server)
        } catch {
            try? await server.shutdown()
            throw error
        }
        try await server.shutdown()
    }

    static func run(_ server: MockAuthorizationServer) async throws {
        let clientSecret = Secret("example-secret")
        server.registerClient(id: "reporting", secret: clientSecret)
        let provider = try ProviderDescriptor(
            id: ProviderID("reports-api"), tokenEndpoint: server.tokenEndpoint, clientID: "reporting",
            clientSecret: clientSecret, grants: [.clientCredentials], allowsInsecureLoopback: true)

        let transport = LoggingTransport(wrapping: URLSessionTransport())
        let broker = try Broker(
            provider: provider, store: MemoryStore(), transport: transport, errorMapper: URLSessionErrorMapper())

        let key = try broker.key(tenant: "acme", principal: "reporting", scopes: ["reports:read"])
        print("first call:")
        let token = try await broker.accessToken(for: key)
        print("  ->", token)
        print("second call (cached, no HTTP):")
        _ = try await broker.accessToken(for: key)

        // A failure the mapper types: the server answers 503 three times, the broker retries, then gives up
        // with a transient error.
        server.enqueue([.internalServerError, .internalServerError, .internalServerError])
        print("a provider outage on a new key:")
        do {
            _ = try await broker.accessToken(for: try broker.key(tenant: "globex", principal: "reporting"))
        } catch let error as BrokerError {
            print("  ->", error.code, "(transient: \(error.isTransient))")
        }
        print("requests sent through the custom transport:", transport.requestCount)
    }
}
