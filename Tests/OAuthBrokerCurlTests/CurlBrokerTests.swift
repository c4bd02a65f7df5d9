import Foundation
import OAuthBroker
import OAuthBrokerCurl
import OAuthBrokerTesting
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
}
