public import Foundation

/// What RFC 7662 introspection said about a token.
public struct TokenIntrospection: Sendable, Hashable {
    /// Whether the token is active.
    public var isActive: Bool
    /// `scope`, if present.
    public var scopes: ScopeSet?
    /// `client_id`, if present.
    public var clientID: String?
    /// `exp`, if present.
    public var expiresAt: Date?
    /// `sub`, if present.
    public var subject: String?
}

extension Broker {
    /// Revokes the grant stored for `key`: marks the record revoked (so it is never served or refreshed again),
    /// then, when the provider has a revocation endpoint, sends the refresh token (else the access token) to it
    /// (RFC 7009).
    ///
    /// - Returns: Whether a record existed. With nothing stored this succeeds and returns `false`: revocation is
    ///   idempotent.
    /// - Throws: Store errors before anything changed; transient or provider errors from the revocation endpoint
    ///   *after* the record was marked revoked locally.
    @discardableResult
    public func revoke(_ key: StoreKey) async throws -> Bool {
        try checkProvider(of: key)
        guard let existing = try await loadRecord(key) else {
            cache.remove(key)
            return false
        }
        let updated = try await storeCall("set_status", key) { try await self.store.setStatus(.revoked, for: key) }
        cache.remove(key)
        emit(.revoked, key: key, grant: nil, record: updated ?? existing)
        guard let endpoint = provider.revocationEndpoint else { return true }
        let (token, hint) =
            existing.refreshToken.map { ($0, "refresh_token") } ?? (existing.accessToken, "access_token")
        let request = makeRequest(
            url: endpoint, form: [("token", token.revealedValue), ("token_type_hint", hint)])
        let deadline = configuration.clock.now().addingTimeInterval(configuration.totalTimeout.timeInterval)
        _ = try await send(request, flow: "revocation", grant: nil, deadline: deadline, key: key)
        return true
    }

    /// Asks the provider's introspection endpoint (RFC 7662) about the access token stored for `key`.
    /// - Throws: ``BrokerError/Code/invalidConfiguration`` without an introspection endpoint,
    ///   ``BrokerError/Code/reauthorizationRequired`` with nothing stored, request errors, and
    ///   ``BrokerError/Code/malformedResponse`` for a response without a boolean `active`.
    public func introspect(_ key: StoreKey) async throws -> TokenIntrospection {
        try checkProvider(of: key)
        guard let endpoint = provider.introspectionEndpoint else {
            throw BrokerError(
                .invalidConfiguration, "the provider has no introspection endpoint", provider: provider.id)
        }
        guard let record = try await loadRecord(key) else {
            throw BrokerError(
                .reauthorizationRequired, "nothing is stored for this key", provider: provider.id, key: key)
        }
        let request = makeRequest(
            url: endpoint, form: [("token", record.accessToken.revealedValue), ("token_type_hint", "access_token")])
        let deadline = configuration.clock.now().addingTimeInterval(configuration.totalTimeout.timeInterval)
        let (response, _) = try await send(
            request, flow: "introspection", grant: nil, deadline: deadline, key: key)
        guard let object = try? JSONSerialization.jsonObject(with: response.body) as? [String: Any],
            let active = object["active"] as? Bool
        else {
            throw BrokerError(.malformedResponse, "the introspection response has no boolean active", key: key)
        }
        return TokenIntrospection(
            isActive: active,
            scopes: (object["scope"] as? String).flatMap {
                try? ScopeSet(parsing: $0, delimiter: provider.scopeDelimiter)
            },
            clientID: object["client_id"] as? String,
            expiresAt: (object["exp"] as? NSNumber).map { Date(timeIntervalSince1970: $0.doubleValue) },
            subject: object["sub"] as? String)
    }
}
