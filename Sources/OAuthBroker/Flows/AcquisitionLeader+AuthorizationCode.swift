import Foundation

extension AcquisitionLeader {
    /// Stores a new session and returns the authorization URL; see ``Broker/startAuthorization(for:redirectURI:additionalParameters:)``.
    func startAuthorization(
        for key: StoreKey, redirectURI: String, additionalParameters: [String: String]
    ) async throws -> AuthorizationRequest {
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
        try await store.saveSession(session)

        var query: [(String, String)] = [
            ("response_type", "code"), ("client_id", provider.clientID), ("redirect_uri", redirectURI),
        ]
        if !key.scopes.isEmpty { query.append(("scope", key.scopes.joined(by: provider.scopeDelimiter))) }
        query.append(("state", state.revealedValue))
        if provider.requiresPKCE {
            query += [("code_challenge", PKCE.challenge(for: verifier)), ("code_challenge_method", "S256")]
        }
        query += additionalParameters.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        let encoded = String(decoding: FormEncoding.encode(query), as: UTF8.self)
        var base = endpoint.absoluteString
        base += endpoint.query == nil ? "?" : "&"
        guard let url = URL(string: base + encoded) else {
            throw BrokerError(.invalidConfiguration, "could not build the authorization URL", provider: provider.id)
        }
        return AuthorizationRequest(url: url, sessionID: session.id, key: key, expiresAt: session.expiresAt)
    }

    /// Redeems `code` for the session and stores the new record, replacing any previous grant for the key; see
    /// ``Broker/completeAuthorization(code:state:)``.
    ///
    /// The code is one-time: it is sent only with enough time left, never retried after an ambiguous failure, and
    /// the tokens it yields are stored by the ``RecordWriter`` rules (retried within the store-write budget, then
    /// kept in memory), so a spent code never yields tokens that are lost.
    func redeem(code: String, session: AuthorizationSession) async throws -> TokenRecord {
        let key = session.key
        var parameters = [("code", code), ("redirect_uri", session.redirectURI)]
        if provider.requiresPKCE { parameters.append(("code_verifier", session.codeVerifier.revealedValue)) }
        let response = try await client.tokenRequest(
            grant: .authorizationCode, parameters: parameters, deadline: deadline(), key: key)
        let new = makeRecord(from: response, previous: nil, key: key)
        let existing = try? await store.record(for: key)
        let (stored, _) = try await writer.persist(
            new, for: key, replacing: existing, policy: .overwrite, recreatesMissing: true)
        remember(stored, for: key)
        events.emit(.issued, key: key, grant: .authorizationCode, record: stored)
        return stored
    }

    /// Takes the session for `state` (single use) and checks it. The id is derived from this provider and the
    /// state, so a session another provider started is never found and never consumed here.
    func takeSession(state: String) async throws -> AuthorizationSession {
        let id = AuthorizationSession.id(forState: state, provider: provider.id)
        guard let session = try await store.takeSession(id: id), session.state == Secret(state) else {
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
