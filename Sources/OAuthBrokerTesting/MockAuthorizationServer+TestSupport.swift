public import Foundation
public import OAuthBroker

extension MockAuthorizationServer {
    /// Issues tokens directly, as if `clientID` had just exchanged an authorization code: a new grant family
    /// with an access token and a refresh token. Use it to put a valid refresh token into a store.
    ///
    /// - Parameters:
    ///   - clientID: A registered client.
    ///   - scopes: The granted scopes.
    ///   - subject: The resource owner (`sub` in introspection); ``Configuration/defaultSubject`` when `nil`.
    /// - Returns: The tokens and the access token's lifetime.
    /// - Throws: ``BrokerError`` with ``BrokerError/Code/invalidInput`` when `clientID` is not registered.
    public func issueGrant(clientID: String, scopes: ScopeSet = .empty, subject: String? = nil) throws -> IssuedGrant {
        let now = engine.now
        let issued = try engine.state.withLock { state in
            guard state.clients[clientID] != nil else {
                throw BrokerError(.invalidInput, "client \(clientID) is not registered with the mock server")
            }
            return engine.issue(
                clientID: clientID, subject: subject ?? engine.configuration.defaultSubject, scopes: scopes.scopes,
                withRefreshToken: true, now: now, in: &state)
        }
        let lifetime = wholeSeconds(engine.configuration.accessTokenLifetime)
        return IssuedGrant(
            accessToken: Secret(issued.accessToken), refreshToken: Secret(issued.refreshToken ?? ""),
            expiresIn: .seconds(lifetime), expiresAt: now.addingTimeInterval(TimeInterval(lifetime)), scopes: scopes)
    }

    /// Issues a grant for `clientID` (``issueGrant(clientID:scopes:subject:)``) and inserts it into `store` under
    /// `key` as a record whose access token expired an hour before `now`, so that the next token request for
    /// `key` is a refresh with the grant's refresh token.
    ///
    /// - Returns: The issued grant (its tokens are the ones stored) and the stored record.
    /// - Throws: ``BrokerError`` when the client is not registered or the store already holds `key`.
    @discardableResult
    public func seedExpiredGrant(
        clientID: String, in store: some BrokerStore, for key: StoreKey, now: Date = Date()
    ) async throws -> (grant: IssuedGrant, record: TokenRecord) {
        let grant = try issueGrant(clientID: clientID, scopes: key.scopes)
        let issued = now.addingTimeInterval(-7200)
        let record = TokenRecord(
            accessToken: grant.accessToken, refreshToken: grant.refreshToken, scopes: key.scopes, issuedAt: issued,
            expiresAt: issued.addingTimeInterval(3600), version: TokenRecord.initialVersion(at: issued))
        guard case .inserted(let stored) = try await store.insert(record, for: key) else {
            throw BrokerError(.invalidInput, "the store already holds a record for the key", key: key)
        }
        return (grant, stored)
    }

    /// A provider registration for this server's endpoints (loopback `http` allowed), for brokers under test.
    ///
    /// - Parameters:
    ///   - id: The provider id.
    ///   - clientID: A client registered with ``registerClient(id:secret:tenant:redirectURIs:authenticationMethods:)``.
    ///   - clientSecret: Its secret, sent with `client_secret_basic`.
    ///   - grants: The grants the broker may use.
    /// - Throws: ``BrokerError`` from ``OAuthBroker/ProviderDescriptor`` validation.
    public func providerDescriptor(
        id: ProviderID, clientID: String, clientSecret: Secret,
        grants: Set<ProviderDescriptor.Grant> = [.refreshToken, .clientCredentials, .authorizationCode]
    ) throws -> ProviderDescriptor {
        try ProviderDescriptor(
            id: id, tokenEndpoint: tokenEndpoint, clientID: clientID, clientSecret: clientSecret, grants: grants,
            authorizationEndpoint: authorizationEndpoint, revocationEndpoint: revocationEndpoint,
            introspectionEndpoint: introspectionEndpoint, allowsInsecureLoopback: true)
    }

    /// Whether `accessToken` was issued by this server and is neither expired (by ``Configuration/clock``) nor
    /// revoked (directly, or with its family).
    ///
    /// - Parameter accessToken: The token.
    /// - Returns: `true` if a resource server would accept it now.
    public func isActive(accessToken: Secret) -> Bool {
        let now = engine.now
        return engine.state.withLock { engine.isActive(accessToken: accessToken.revealedValue, now: now, in: $0) }
    }

    /// Whether `refreshToken` would be accepted by the token endpoint now: issued here, not rotated away, not
    /// revoked, not expired.
    ///
    /// - Parameter refreshToken: The token.
    /// - Returns: `true` if a refresh with it would succeed (ignoring client authentication and faults).
    public func isActive(refreshToken: Secret) -> Bool {
        let now = engine.now
        return engine.state.withLock { engine.isActive(refreshToken: refreshToken.revealedValue, now: now, in: $0) }
    }

    /// Revokes the whole grant family of `token` (an access or refresh token), as if the user withdrew consent.
    ///
    /// - Parameter token: Any token of the family.
    /// - Returns: Whether the token was known.
    @discardableResult
    public func revokeFamily(of token: Secret) -> Bool {
        engine.state.withLock { state in
            guard let family = engine.familyID(of: token.revealedValue, in: state) else { return false }
            engine.revokeFamily(family, in: &state)
            return true
        }
    }

    /// Whether the grant family of `token` is still alive: not revoked by reuse detection, a code replay, the
    /// revocation endpoint or ``revokeFamily(of:)``.
    ///
    /// Use it to assert that a fault cost no grant: after a refresh whose response was lost,
    /// `isFamilyActive(of: oldRefreshToken)` stays `true` until the old token is presented again.
    ///
    /// - Parameter token: Any access or refresh token of the family, also one rotated away or expired.
    /// - Returns: `true` if the family is known and not revoked; `false` for a token this server never issued.
    public func isFamilyActive(of token: Secret) -> Bool {
        engine.state.withLock { state in
            guard let id = engine.familyID(of: token.revealedValue, in: state), let family = state.families[id]
            else { return false }
            return !family.isRevoked
        }
    }

    /// The refresh token of `token`'s family that the token endpoint would accept now: after a rotation whose
    /// response was lost (``Fault/badGatewayAfterProcessing``), the one the client never saw.
    ///
    /// Use it to assert what a broker stored: `store.record(for: key)?.refreshToken ==
    /// server.activeRefreshToken(inFamilyOf: grant.refreshToken)`.
    ///
    /// - Parameter token: Any access or refresh token of the family, also one rotated away or expired.
    /// - Returns: The active refresh token, or `nil` if the token is unknown, the family is revoked, or its latest
    ///   refresh token expired (or the family never had one).
    public func activeRefreshToken(inFamilyOf token: Secret) -> Secret? {
        let now = engine.now
        return engine.state.withLock { state in
            guard let id = engine.familyID(of: token.revealedValue, in: state), let family = state.families[id]
            else { return nil }
            return family.refreshTokens.last { engine.isActive(refreshToken: $0, now: now, in: state) }.map(Secret.init)
        }
    }

    /// Makes every access token issued so far expired (refresh tokens stay valid), so a resource server check
    /// with ``isActive(accessToken:)`` or introspection fails.
    public func expireAllAccessTokens() {
        let past = engine.now.addingTimeInterval(-1)
        engine.state.withLock { state in
            for token in state.accessTokens.keys { state.accessTokens[token]?.expiresAt = past }
        }
    }

    /// Answers an authorization request without HTTP, approving it whatever ``authorizationDecision`` says, and
    /// returns the callback URL a browser would be redirected to (with `code` and `state`).
    ///
    /// Use it with a broker's authorization URL:
    /// ```swift
    /// let request = try await broker.startAuthorization(for: key, redirectURI: "http://127.0.0.1/callback")
    /// let callback = try await server.approve(authorizationURL: request.url)
    /// let token = try await broker.completeAuthorization(callbackURL: callback)
    /// ```
    /// Not counted in ``statistics`` and not subject to faults or latency.
    ///
    /// - Parameter authorizationURL: A URL for this server's authorization endpoint (host and port are ignored;
    ///   a `/tenants/<tenant>/authorize` path is honoured).
    /// - Returns: The redirect URI with `code` and `state` (and `iss` when
    ///   ``Configuration/authorizationResponseIssuer`` is set), or with `error` and `state` when the request itself is
    ///   invalid in a way the client must hear about (no PKCE challenge, unknown scope, wrong `response_type`).
    /// - Throws: ``BrokerError`` with ``BrokerError/Code/invalidInput`` when the request cannot be redirected at
    ///   all (not an authorization URL, unknown client, bad or unregistered redirect URI).
    public func approve(authorizationURL: URL) async throws -> URL {
        try answer(authorizationURL, decision: .approve)
    }

    /// Answers an authorization request without HTTP as if the user refused, and returns the callback URL with
    /// `error` (by default `access_denied`) and `state`.
    ///
    /// - Parameters:
    ///   - authorizationURL: A URL for this server's authorization endpoint.
    ///   - error: The error to send.
    /// - Returns: The callback URL.
    /// - Throws: ``BrokerError`` with ``BrokerError/Code/invalidInput`` when the request cannot be redirected.
    public func deny(authorizationURL: URL, error: OAuthErrorCode = .accessDenied) async throws -> URL {
        let decision: AuthorizationDecision = error == .accessDenied ? .deny : .fail(with: error)
        return try answer(authorizationURL, decision: decision)
    }

    private func answer(_ url: URL, decision: AuthorizationDecision) throws -> URL {
        guard let components = URLComponents(url: url, resolvingAgainstBaseURL: false),
            let route = MockRoute(path: components.percentEncodedPath), route.endpoint == .authorization
        else { throw BrokerError(.invalidInput, "not an authorization URL of the mock server") }
        switch engine.authorize(query: components.percentEncodedQuery ?? "", tenant: route.tenant, decision: decision) {
        case .redirect(let location):
            guard let callback = URL(string: location) else {
                throw BrokerError(.invalidInput, "the redirect URI does not form a valid URL")
            }
            return callback
        case .errorPage(let message):
            throw BrokerError(.invalidInput, "the mock server refused the authorization request: \(message)")
        }
    }
}
