public import Foundation

/// Where to send the user to authorize, returned by ``Broker/startAuthorization(for:redirectURI:additionalParameters:)``.
///
/// Its printed forms (`description`, `dump`) show the key, the authorization endpoint and the expiry, never the
/// URL's query: the `state` in it is what a callback must present, so it is kept out of logs.
public struct AuthorizationRequest: Sendable, CustomStringConvertible, CustomReflectable {
    /// The authorization URL (with `response_type=code`, `client_id`, `redirect_uri`, `scope`, `state`,
    /// `code_challenge` and `code_challenge_method=S256`). Send it to the user's browser; do not log it (its
    /// `state` is what the callback presents). The verifier stays in the store.
    public let url: URL
    /// The session identifier under which the pending authorization is stored.
    public let sessionID: String
    /// The key the token will be stored under.
    public let key: StoreKey
    /// When the session stops being accepted.
    public let expiresAt: Date

    /// The key, the authorization endpoint without its query, and the expiry.
    public var description: String {
        "AuthorizationRequest(key: \(key), endpoint: \(endpoint), state: <redacted>, expiresAt: \(expiresAt))"
    }

    /// The same fields as ``description``.
    public var customMirror: Mirror {
        Mirror(
            self, children: ["key": key, "endpoint": endpoint, "state": "<redacted>", "expiresAt": expiresAt],
            displayStyle: .struct)
    }

    /// The URL without its query or fragment.
    private var endpoint: String {
        guard var components = URLComponents(url: url, resolvingAgainstBaseURL: false) else { return "<url>" }
        components.percentEncodedQuery = nil
        components.percentEncodedFragment = nil
        return components.string ?? "<url>"
    }
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
    /// Reads `code`, `state`, `iss`, and `error`/`error_description` from the query (RFC 6749 §4.1.2, RFC 9207),
    /// and refuses, before any token request:
    /// - a callback whose `iss` differs from the provider's ``ProviderDescriptor/issuer`` (or lacks `iss` when
    ///   ``ProviderDescriptor/requiresAuthorizationResponseIssuer``): ``BrokerError/Code/authorizationDenied``,
    ///   and the session is **kept**, since such a callback may come from an attacker (a mix-up) while the
    ///   user's own callback is still to arrive;
    /// - a state this broker's provider did not start (another provider's session is never found, so it stays
    ///   usable by that provider's broker), or an unknown, expired or used one:
    ///   ``BrokerError/Code/invalidAuthorizationState`` / ``BrokerError/Code/authorizationSessionExpired``;
    /// - a callback that did not arrive on the session's redirect URI (scheme, host, port and path, and the
    ///   redirect URI's own query parameters): ``BrokerError/Code/invalidAuthorizationState``, and the session is
    ///   consumed, since its state has been presented somewhere it was never sent.
    ///
    /// - Returns: The new token.
    /// - Throws: As above; ``BrokerError/Code/invalidInput`` when a parameter is repeated or the callback has
    ///   neither code nor error; ``BrokerError/Code/authorizationDenied`` when the callback carries an error (the
    ///   session is consumed); the errors of ``completeAuthorization(code:state:issuer:)``.
    public func completeAuthorization(callbackURL: URL) async throws -> AccessToken {
        let response = try AuthorizationResponse(url: callbackURL, provider: provider.id)
        guard let state = response.state, !state.isEmpty else {
            throw BrokerError(.invalidAuthorizationState, "the callback has no state", provider: provider.id)
        }
        try AuthorizationResponse.checkIssuer(response.issuer, for: provider)
        if response.error == nil, response.code?.isEmpty ?? true {
            throw BrokerError(.invalidInput, "the callback has neither code nor error", provider: provider.id)
        }
        let session = try await leader.takeSession(state: state)
        guard AuthorizationResponse.url(callbackURL, arrivedOn: session.redirectURI) else {
            throw BrokerError(
                .invalidAuthorizationState,
                "the callback did not arrive on the redirect URI the authorization was started with",
                provider: provider.id, key: session.key)
        }
        if let error = response.error {
            throw BrokerError(
                .authorizationDenied, "the authorization server returned \(error.prefix(64))",
                oauthError: OAuthErrorCode(rawValue: String(error.prefix(128))),
                oauthErrorDescription: response.errorDescription, provider: provider.id, key: session.key)
        }
        return try await redeem(code: response.code ?? "", session: session)
    }

    /// Completes an authorization whose response carried no `iss`: the same as
    /// ``completeAuthorization(code:state:issuer:)`` with `issuer` `nil`.
    ///
    /// - Throws: As ``completeAuthorization(code:state:issuer:)``.
    public func completeAuthorization(code: String, state: String) async throws -> AccessToken {
        try await completeAuthorization(code: code, state: state, issuer: nil)
    }

    /// Completes an authorization: checks `issuer` (the response's `iss`) as
    /// ``completeAuthorization(callbackURL:)`` does, takes the session for `state` (single use; another provider's
    /// session is never found, so it stays usable), exchanges `code` with the PKCE verifier, and stores the new
    /// record (replacing any previous grant for the key).
    ///
    /// The exchange runs to completion even if the caller is cancelled, so a code the provider has accepted never
    /// yields tokens that are lost. Prefer ``completeAuthorization(callbackURL:)``, which also checks the redirect
    /// URI the callback arrived on.
    ///
    /// - Parameters:
    ///   - code: The authorization code.
    ///   - state: The callback's `state`.
    ///   - issuer: The callback's `iss` (RFC 9207), or `nil` if it had none.
    /// - Throws: ``BrokerError/Code/authorizationDenied`` for an `issuer` the provider does not declare (the
    ///   session is kept), ``BrokerError/Code/invalidAuthorizationState`` (unknown, forged, replayed or another
    ///   provider's state), ``BrokerError/Code/authorizationSessionExpired``, and token-request errors.
    public func completeAuthorization(code: String, state: String, issuer: String?) async throws -> AccessToken {
        try AuthorizationResponse.checkIssuer(issuer, for: provider)
        let session = try await leader.takeSession(state: state)
        return try await redeem(code: code, session: session)
    }

    /// Redeems `code` for `session` in a task that runs to completion whatever happens to the caller.
    private func redeem(code: String, session: AuthorizationSession) async throws -> AccessToken {
        let leader = self.leader
        let task = Task { try await leader.redeem(code: code, session: session) }
        return AccessToken(record: try await task.value, key: session.key)
    }
}
