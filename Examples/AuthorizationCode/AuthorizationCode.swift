// A user connects their account: the authorization-code grant with PKCE (S256), then refresh with rotation and
// revocation.
//
//   swift run --package-path Examples AuthorizationCode
import Foundation
import OAuthBroker
import OAuthBrokerCurl
import OAuthBrokerTesting

@main
struct AuthorizationCode {
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
        let redirectURI = "http://127.0.0.1:8080/oauth/callback"
        let clientSecret = Secret("example-secret")
        server.registerClient(id: "calendar-app", secret: clientSecret, redirectURIs: [redirectURI])

        let provider = try ProviderDescriptor(
            id: ProviderID("calendar"),
            tokenEndpoint: server.tokenEndpoint,
            clientID: "calendar-app",
            clientSecret: clientSecret,
            grants: [.authorizationCode, .refreshToken],
            authorizationEndpoint: server.authorizationEndpoint,
            revocationEndpoint: server.revocationEndpoint,
            allowsInsecureLoopback: true)
        let broker = try Broker(provider: provider, store: MemoryStore())
        let key = try broker.key(tenant: "acme", principal: "alice@acme.example", scopes: ["calendar.read"])

        // 1. Send the user to the authorization URL. The state and the PKCE verifier stay in the store, so the
        //    callback may reach any process that shares it.
        let request = try await broker.startAuthorization(for: key, redirectURI: redirectURI)
        print("send the user to:", request.url.absoluteString)

        // 2. The user approves; the browser lands on the redirect URI with `code` and `state`.
        //    (Here the mock server answers as the user's browser would.)
        let callback = try await server.approve(authorizationURL: request.url)

        // 3. Your callback handler completes the flow with the full callback URL.
        let token = try await broker.completeAuthorization(callbackURL: callback)
        print("authorized:", token)

        // A replayed callback is refused: the state is single-use.
        do {
            _ = try await broker.completeAuthorization(callbackURL: callback)
        } catch let error as BrokerError {
            print("replayed callback refused:", error.code)
        }

        // 4. Refresh (rotating the refresh token), then revoke.
        let refreshed = try await broker.refresh(key, force: true)
        print("refreshed: version \(token.version) -> \(refreshed.version)")
        print("refresh-token rotations at the server:", server.statistics.refreshTokenRotations)
        try await broker.revoke(key)
        do {
            _ = try await broker.accessToken(for: key)
        } catch let error as BrokerError where error.needsReauthorization {
            print("after revocation:", error.code, "- the user must authorize again")
        }
    }
}
