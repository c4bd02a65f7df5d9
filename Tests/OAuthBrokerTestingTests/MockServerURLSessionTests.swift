import Foundation
import OAuthBroker
import OAuthBrokerTesting
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

@Suite("Mock server: interoperability with URLSession")
struct MockServerURLSessionTests {
    @Test("URLSession gets a token with client_secret_basic and keeps the connection alive")
    func clientCredentialsWithURLSession() async throws {
        try await withServer { server in
            let session = URLSession(configuration: .ephemeral)
            defer { session.finishTasksAndInvalidate() }
            var request = URLRequest(url: server.tokenEndpoint)
            request.httpMethod = "POST"
            request.setValue("application/x-www-form-urlencoded", forHTTPHeaderField: "Content-Type")
            request.setValue(
                FormEncoding.basicAuthorization(clientID: "a:b c", clientSecret: Secret("p@ss/w%rd")),
                forHTTPHeaderField: "Authorization")
            request.httpBody = FormEncoding.encode([("grant_type", "client_credentials"), ("scope", "read")])
            server.registerClient(id: "a:b c", secret: Secret("p@ss/w%rd"))
            for _ in 0..<3 {
                let (data, response) = try await session.data(for: request)
                let http = try #require(response as? HTTPURLResponse)
                #expect(http.statusCode == 200)
                #expect(http.value(forHTTPHeaderField: "Cache-Control") == "no-store")
                let parsed = try TokenResponse(parsing: data)
                #expect(parsed.tokenType == "Bearer")
                #expect(parsed.scope == ["read"])
                #expect(server.isActive(accessToken: parsed.accessToken))
            }
            #expect(server.statistics.requests(clientID: "a:b c") == 3)
            #expect(server.statistics.connectionsAccepted == 1)
        }
    }
}
