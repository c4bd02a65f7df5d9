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
    /// Revokes the grant stored for `key`: marks the record revoked (so it is never served or refreshed again,
    /// by this process at once and by other processes sharing the store within
    /// ``BrokerConfiguration/revalidationInterval``), then, when the provider has a revocation endpoint, sends the
    /// refresh token (else the access token) to it (RFC 7009).
    ///
    /// Never races a refresh: it waits for a refresh in flight in this process, and takes the key's refresh lease
    /// (waiting up to ``BrokerConfiguration/totalTimeout`` for another process's refresh), so the token it revokes
    /// is the grant's newest one. Callers that ask for the key meanwhile get ``BrokerError/Code/tokenRevoked``.
    ///
    /// - Returns: Whether a record existed. With nothing stored this succeeds and returns `false`: revocation is
    ///   idempotent.
    /// - Throws: Store errors and ``BrokerError/Code/leaseUnavailable`` before anything changed; transient or
    ///   provider errors from the revocation endpoint *after* the record was marked revoked locally.
    @discardableResult
    public func revoke(_ key: StoreKey) async throws -> Bool {
        try checkProvider(of: key)
        let leader = self.leader
        return try await flights.runExclusive(key, timeout: configuration.totalTimeout) {
            try await leader.revoke(key)
        } joinerResult: { outcome in
            switch outcome {
            case .success(true):
                .failure(BrokerError(.tokenRevoked, "the grant was revoked", provider: leader.provider.id, key: key))
            case .success(false):
                .failure(
                    BrokerError(
                        .reauthorizationRequired, "nothing is stored for this key", provider: leader.provider.id,
                        key: key))
            case .failure(let error): .failure(error)
            }
        }
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
        guard let record = try await leader.store.record(for: key) else {
            throw BrokerError(
                .reauthorizationRequired, "nothing is stored for this key", provider: provider.id, key: key)
        }
        let request = leader.client.makeRequest(
            url: endpoint, form: [("token", record.accessToken.revealedValue), ("token_type_hint", "access_token")])
        let (_, _, json) = try await leader.client.send(
            request, flow: "introspection", grant: nil, deadline: leader.deadline(), key: key)
        guard case .object(let object) = json, case .bool(let active) = object["active"] else {
            throw BrokerError(.malformedResponse, "the introspection response has no boolean active", key: key)
        }
        func string(_ name: String) -> String? {
            if case .string(let value) = object[name] { return value }
            return nil
        }
        var expiresAt: Date?
        if case .number(let seconds) = object["exp"], seconds.isFinite {
            expiresAt = Date(timeIntervalSince1970: seconds)
        }
        return TokenIntrospection(
            isActive: active,
            scopes: string("scope").flatMap { try? ScopeSet(parsing: $0, delimiter: provider.scopeDelimiter) },
            clientID: string("client_id"), expiresAt: expiresAt, subject: string("sub"))
    }
}
