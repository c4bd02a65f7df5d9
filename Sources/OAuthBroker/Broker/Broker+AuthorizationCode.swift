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
        guard provider.supports(.authorizationCode), let endpoint = provider.authorizationEndpoint else {
            throw BrokerError(
                .grantNotSupported, "the provider does not allow the authorization_code grant", provider: provider.id)
        }
        guard let redirect = URL(string: redirectURI) else {
            throw BrokerError(.invalidInput, "the redirect URI is not a URL", provider: provider.id)
        }
        do {
            try ProviderDescriptor.validateEndpoint(
                redirect, name: "redirect URI", allowsInsecureLoopback: provider.allowsInsecureLoopback)
        } catch let error as BrokerError {
            throw BrokerError(.invalidInput, error.message, provider: provider.id)
        }
        let reserved: Set<String> = [
            "response_type", "client_id", "redirect_uri", "scope", "state", "code_challenge", "code_challenge_method",
        ]
        if let clash = additionalParameters.keys.sorted().first(where: reserved.contains) {
            throw BrokerError(.invalidInput, "parameter \(clash) is set by the broker", provider: provider.id)
        }
        let state = PKCE.makeState()
        let verifier = PKCE.makeVerifier()
        let now = configuration.clock.now()
        let session = AuthorizationSession(
            state: state, codeVerifier: verifier, redirectURI: redirectURI, key: key, createdAt: now,
            expiresAt: now.addingTimeInterval(configuration.authorizationSessionLifetime.timeInterval))
        try await storeCall("save_session", key) { try await self.store.saveSession(session) }

        var query: [(String, String)] = [
            ("response_type", "code"), ("client_id", provider.clientID), ("redirect_uri", redirectURI),
        ]
        if !key.scopes.isEmpty { query.append(("scope", key.scopes.joined(by: provider.scopeDelimiter))) }
        query += [
            ("state", state.revealedValue), ("code_challenge", PKCE.challenge(for: verifier)),
            ("code_challenge_method", "S256"),
        ]
        query += additionalParameters.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        let encoded = String(decoding: FormEncoding.encode(query), as: UTF8.self)
        var base = endpoint.absoluteString
        base += endpoint.query == nil ? "?" : "&"
        guard let url = URL(string: base + encoded) else {
            throw BrokerError(.invalidConfiguration, "could not build the authorization URL", provider: provider.id)
        }
        return AuthorizationRequest(url: url, sessionID: session.id, key: key, expiresAt: session.expiresAt)
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
            let session = try await takeSession(state: state)
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
        let session = try await takeSession(state: state)
        let key = session.key
        let task = Task {
            let deadline = self.configuration.clock.now().addingTimeInterval(
                self.configuration.totalTimeout.timeInterval)
            let response = try await self.tokenRequest(
                grant: .authorizationCode,
                parameters: [
                    ("code", code), ("redirect_uri", session.redirectURI),
                    ("code_verifier", session.codeVerifier.revealedValue),
                ], deadline: deadline, key: key)
            let existing = try await self.loadRecord(key)
            let new = self.makeRecord(from: response, previous: nil, key: key)
            let (stored, _) = try await self.persist(
                new, for: key, replacing: existing, policy: .overwrite, recreatesMissing: true)
            self.remember(stored, for: key)
            self.emit(.issued, key: key, grant: .authorizationCode, record: stored)
            return stored
        }
        let stored = try await task.value
        return AccessToken(record: stored, key: key)
    }

    private func takeSession(state: String) async throws -> AuthorizationSession {
        let id = AuthorizationSession.id(forState: state)
        guard let session = try await storeCall("take_session", nil, { try await self.store.takeSession(id: id) }),
            session.state == Secret(state)
        else {
            throw BrokerError(
                .invalidAuthorizationState, "the state is unknown, forged, expired or already used",
                provider: provider.id)
        }
        guard !session.isExpired(at: configuration.clock.now()) else {
            throw BrokerError(
                .authorizationSessionExpired, "the authorization session expired", provider: provider.id,
                key: session.key)
        }
        guard session.key.provider == provider.id else {
            throw BrokerError(
                .invalidAuthorizationState, "the session belongs to provider \(session.key.provider)",
                provider: provider.id)
        }
        return session
    }
}
