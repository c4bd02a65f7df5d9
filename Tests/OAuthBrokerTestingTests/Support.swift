import Foundation
import OAuthBroker
import OAuthBrokerTesting

/// A client registered on every test server: `client_secret_basic` / `client_secret_post`.
let confidential = (id: "app", secret: "s3cret")

/// Starts a server with `configure` applied, registers ``confidential``, runs `body`, and shuts it down.
func withServer<Result: Sendable>(
    _ configure: (inout MockAuthorizationServer.Configuration) -> Void = { _ in },
    _ body: (MockAuthorizationServer) async throws -> Result
) async throws -> Result {
    var configuration = MockAuthorizationServer.Configuration()
    configure(&configuration)
    return try await MockAuthorizationServer.withRunningServer(configuration: configuration) { server in
        server.registerClient(id: confidential.id, secret: Secret(confidential.secret))
        return try await body(server)
    }
}

/// A client-credentials request for ``confidential`` with Basic authentication.
func clientCredentials(
    _ server: MockAuthorizationServer, scope: String? = nil
) async throws -> LoopbackResponse {
    var form = [("grant_type", "client_credentials")]
    if let scope { form.append(("scope", scope)) }
    return try await LoopbackHTTP.post(server.tokenEndpoint, form: form, basic: confidential)
}

/// A refresh request for ``confidential``.
func refresh(_ server: MockAuthorizationServer, _ refreshToken: String, scope: String? = nil) async throws
    -> LoopbackResponse
{
    var form = [("grant_type", "refresh_token"), ("refresh_token", refreshToken)]
    if let scope { form.append(("scope", scope)) }
    return try await LoopbackHTTP.post(server.tokenEndpoint, form: form, basic: confidential)
}

/// The query parameters of `url`, decoded.
func queryItems(_ url: URL) -> [String: String] {
    let query = URLComponents(url: url, resolvingAgainstBaseURL: false)?.percentEncodedQuery ?? ""
    var items: [String: String] = [:]
    for (name, value) in FormEncoding.decode(query) where items[name] == nil { items[name] = value }
    return items
}

/// An authorization URL for ``confidential`` as a broker would build it.
func authorizationURL(
    _ server: MockAuthorizationServer, clientID: String = confidential.id,
    redirectURI: String = "http://127.0.0.1:9/callback", state: String = "st-123",
    challenge: String?, scope: String? = "read write", extra: [(String, String)] = []
) -> URL {
    var query: [(String, String)] = [
        ("response_type", "code"), ("client_id", clientID), ("redirect_uri", redirectURI), ("state", state),
    ]
    if let scope { query.append(("scope", scope)) }
    if let challenge { query += [("code_challenge", challenge), ("code_challenge_method", "S256")] }
    query += extra
    return URL(
        string: server.authorizationEndpoint.absoluteString + "?"
            + String(decoding: FormEncoding.encode(query), as: UTF8.self))!
}

/// Exchanges `code` for tokens as ``confidential``.
func exchange(
    _ server: MockAuthorizationServer, code: String, verifier: String?,
    redirectURI: String = "http://127.0.0.1:9/callback", basic: (id: String, secret: String)? = confidential,
    extraForm: [(String, String)] = []
) async throws -> LoopbackResponse {
    var form = [("grant_type", "authorization_code"), ("code", code), ("redirect_uri", redirectURI)]
    if let verifier { form.append(("code_verifier", verifier)) }
    return try await LoopbackHTTP.post(server.tokenEndpoint, form: form + extraForm, basic: basic)
}
