public import Foundation

/// Where to send the user to authorize, returned by ``Broker/startAuthorization(for:redirectURI:additionalParameters:)``.
public struct AuthorizationRequest: Sendable, CustomStringConvertible {
    /// The authorization URL (with `response_type=code`, `client_id`, `redirect_uri`, `scope`, `state`,
    /// `code_challenge` and `code_challenge_method=S256`). Contains no secret: the verifier stays in the store.
    public let url: URL
    /// The session identifier under which the pending authorization is stored.
    public let sessionID: String
    /// The key the token will be stored under.
    public let key: StoreKey
    /// When the session stops being accepted.
    public let expiresAt: Date

    /// The URL and key.
    public var description: String { "AuthorizationRequest(key: \(key), url: \(url.absoluteString))" }
}

extension Broker {
    /// Starts an authorization-code flow with PKCE (RFC 6749 §4.1, RFC 7636 S256).
    ///
    /// Makes a `state` and a code verifier from the system CSPRNG, stores the session (so the callback may reach
    /// any process sharing the store), and returns the URL to send the user to.
    ///
    /// - Parameters:
    ///   - key: Where the resulting token will be stored.
    ///   - redirectURI: The registered redirect URI (`https`, or loopback `http` when the provider allows it).
    ///   - additionalParameters: Extra query parameters (`prompt`, `login_hint`, `access_type`…); they may not
    ///     override the protocol's own.
    /// - Throws: ``BrokerError/Code/grantNotSupported`` when the provider lacks the grant,
    ///   ``BrokerError/Code/invalidInput`` for a bad redirect URI or parameter, store errors.
    public func startAuthorization(
        for key: StoreKey, redirectURI: String, additionalParameters: [String: String] = [:]
    ) async throws -> AuthorizationRequest {
        try checkProvider(of: key)
        return try await leader.startAuthorization(
            for: key, redirectURI: redirectURI, additionalParameters: additionalParameters)
    }

    /// Completes an authorization from the full callback URL the browser landed on.
    ///
    /// Reads `code`, `state`, and `error`/`error_description` from the query (RFC 6749 §4.1.2).
    /// - Returns: The new token.
    /// - Throws: See ``completeAuthorization(code:state:)``; ``BrokerError/Code/authorizationDenied`` when the
    ///   callback carries an error (the session is consumed).
    public func completeAuthorization(callbackURL: URL) async throws -> AccessToken {
        let query = URLComponents(url: callbackURL, resolvingAgainstBaseURL: false)?.percentEncodedQuery ?? ""
        var fields: [String: String] = [:]
        for (name, value) in FormEncoding.decode(query) where fields[name] == nil { fields[name] = value }
        guard let state = fields["state"], !state.isEmpty else {
            throw BrokerError(.invalidAuthorizationState, "the callback has no state", provider: provider.id)
        }
        if let error = fields["error"] {
            let session = try await leader.takeSession(state: state)
            throw BrokerError(
                .authorizationDenied, "the authorization server returned \(error.prefix(64))",
                oauthError: OAuthErrorCode(rawValue: String(error.prefix(128))),
                oauthErrorDescription: fields["error_description"], provider: provider.id, key: session.key)
        }
        guard let code = fields["code"], !code.isEmpty else {
            throw BrokerError(.invalidInput, "the callback has neither code nor error", provider: provider.id)
        }
        return try await completeAuthorization(code: code, state: state)
    }

    /// Completes an authorization: takes the session for `state` (single use), exchanges `code` with the PKCE
    /// verifier, and stores the new record (replacing any previous grant for the key).
    ///
    /// The exchange runs to completion even if the caller is cancelled, so a code the provider has accepted never
    /// yields tokens that are lost.
    ///
    /// - Throws: ``BrokerError/Code/invalidAuthorizationState`` (unknown, forged or replayed state),
    ///   ``BrokerError/Code/authorizationSessionExpired``, and token-request errors.
    public func completeAuthorization(code: String, state: String) async throws -> AccessToken {
        let session = try await leader.takeSession(state: state)
        let leader = self.leader
        let task = Task { try await leader.redeem(code: code, session: session) }
        return AccessToken(record: try await task.value, key: session.key)
    }
}
