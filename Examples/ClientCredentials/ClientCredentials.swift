// A service calling an API on behalf of a tenant: the client-credentials grant, with the default libcurl transport.
//
//   swift run --package-path Examples ClientCredentials
import Foundation
import OAuthBroker
import OAuthBrokerCurl
import OAuthBrokerTesting

@main
struct ClientCredentials {
    static func main() async throws {
        // A local authorization server so the example runs offline. In production, use your provider's URLs.
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
        let clientSecret = Secret("example-secret")  // in production: Secret(environment["CLIENT_SECRET"]!)
        server.registerClient(id: "billing-service", secret: clientSecret)

        let provider = try ProviderDescriptor(
            id: ProviderID("billing-api"),
            tokenEndpoint: server.tokenEndpoint,
            clientID: "billing-service",
            clientSecret: clientSecret,
            clientAuthentication: .clientSecretBasic,
            grants: [.clientCredentials],
            allowsInsecureLoopback: true)  // http is allowed only for 127.0.0.1/localhost/::1, and only with this

        // The convenience initialiser creates a CurlTransport and its error mapper.
        let broker = try Broker(provider: provider, store: MemoryStore())
        let key = try broker.key(tenant: "acme", principal: "billing-service", scopes: ["invoices:read"])

        let token = try await broker.accessToken(for: key)
        print("token:", token)  // prints type, key, version and expiry; never the token itself
        let header = token.authorizationHeaderValue()  // "Bearer …": send it, never log it
        print("Authorization header ready (\(header.count) characters)")

        // Later calls are served from the cache until the token goes stale; then one refresh runs.
        let again = try await broker.accessToken(for: key)
        print("same token on the second call:", again == token)
        print("token requests at the server:", server.statistics.requests(to: .token))
    }
}
