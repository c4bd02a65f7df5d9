extension Broker {
    /// A view of this broker that can reach only `tenant`'s keys.
    ///
    /// Hand the view, not the broker, to code that acts for one tenant (a request handler after it has
    /// authenticated the tenant): every call checks the key's tenant and provider byte for byte before it touches
    /// the cache, the store or the network, and throws ``BrokerError/Code/keyOutsideScope`` for any other key.
    ///
    /// ```swift
    /// let acme = broker.tenant(try TenantID("acme"))
    /// let key = try acme.key(principal: "alice", scopes: ["read"])
    /// let token = try await acme.accessToken(for: key)
    /// ```
    /// - Parameter tenant: The only tenant the view serves.
    /// - Returns: The view. It shares this broker's cache, single-flight, store and transport.
    public func tenant(_ tenant: TenantID) -> TenantScopedBroker<Transport, Mapper> {
        TenantScopedBroker(broker: self, tenant: tenant)
    }

    /// A view of this broker that can reach only the tenant named `tenant`; see ``tenant(_:)-(TenantID)``.
    /// - Throws: ``BrokerError`` (``BrokerError/Code/invalidInput``) for an invalid tenant ID.
    public func tenant(_ tenant: String) throws -> TenantScopedBroker<Transport, Mapper> {
        self.tenant(try TenantID(tenant))
    }
}

/// One tenant's view of a ``Broker``: the owner check, in the library API, that keeps code acting for one tenant
/// from reading, listing, refreshing or revoking another tenant's tokens.
///
/// Made by ``Broker/tenant(_:)-(TenantID)``. Every method mirrors the broker's method of the same name and first
/// checks that the key belongs to ``tenant`` and to the broker's provider, comparing bytes (``Identifier`` equality),
/// so a principal spelled with a different Unicode normalization is a different principal, never a way in. A key
/// that fails the check gets ``BrokerError/Code/keyOutsideScope`` and nothing is read or changed. The view does
/// not expose the broker it wraps.
///
/// Completing an authorization-code flow (the redirect URI callback) stays on the ``Broker``: the callback's
/// `state` names the session, and the session names its key.
public struct TenantScopedBroker<Transport: TokenTransport, Mapper: TransportErrorMapper>: Sendable {
    private let broker: Broker<Transport, Mapper>

    /// The only tenant this view serves.
    public let tenant: TenantID

    init(broker: Broker<Transport, Mapper>, tenant: TenantID) {
        self.broker = broker
        self.tenant = tenant
    }

    /// The provider registration's identifier (the broker's ``ProviderDescriptor/id``).
    public var provider: ProviderID { broker.provider.id }

    /// Makes a key of this tenant at the broker's provider.
    /// - Throws: ``BrokerError`` (``BrokerError/Code/invalidInput``) for an invalid principal or scope.
    public func key(principal: String, scopes: [String] = []) throws -> StoreKey {
        StoreKey(
            provider: provider, tenant: tenant, principal: try PrincipalID(principal), scopes: try ScopeSet(scopes))
    }

    /// Makes a key of this tenant at the broker's provider from validated parts.
    public func key(principal: PrincipalID, scopes: ScopeSet = .empty) -> StoreKey {
        StoreKey(provider: provider, tenant: tenant, principal: principal, scopes: scopes)
    }

    /// Whether `key` is one of this view's keys: this tenant's, at this broker's provider, byte for byte.
    public func contains(_ key: StoreKey) -> Bool { key.tenant == tenant && key.provider == provider }

    /// ``Broker/accessToken(for:)`` for one of this tenant's keys.
    /// - Throws: ``BrokerError/Code/keyOutsideScope`` for another tenant's key; otherwise what the broker throws.
    public func accessToken(for key: StoreKey) async throws -> AccessToken {
        try check(key)
        return try await broker.accessToken(for: key)
    }

    /// ``Broker/cachedAccessToken(for:)`` for one of this tenant's keys.
    /// - Throws: ``BrokerError/Code/keyOutsideScope`` for another tenant's key.
    public func cachedAccessToken(for key: StoreKey) throws -> AccessToken? {
        try check(key)
        return broker.cachedAccessToken(for: key)
    }

    /// ``Broker/refresh(_:force:)`` for one of this tenant's keys.
    /// - Throws: ``BrokerError/Code/keyOutsideScope`` for another tenant's key; otherwise what the broker throws.
    public func refresh(_ key: StoreKey, force: Bool = false) async throws -> AccessToken {
        try check(key)
        return try await broker.refresh(key, force: force)
    }

    /// ``Broker/invalidate(_:for:)`` for one of this tenant's keys.
    /// - Throws: ``BrokerError/Code/keyOutsideScope`` for another tenant's key; otherwise what the broker throws.
    public func invalidate(_ staleAccessToken: Secret, for key: StoreKey) async throws -> AccessToken {
        try check(key)
        return try await broker.invalidate(staleAccessToken, for: key)
    }

    /// ``Broker/record(for:)`` for one of this tenant's keys.
    /// - Throws: ``BrokerError/Code/keyOutsideScope`` for another tenant's key; store errors.
    public func record(for key: StoreKey) async throws -> TokenRecord? {
        try check(key)
        return try await broker.record(for: key)
    }

    /// ``Broker/revoke(_:)`` for one of this tenant's keys.
    /// - Throws: ``BrokerError/Code/keyOutsideScope`` for another tenant's key; otherwise what the broker throws.
    @discardableResult
    public func revoke(_ key: StoreKey) async throws -> Bool {
        try check(key)
        return try await broker.revoke(key)
    }

    /// ``Broker/introspect(_:)`` for one of this tenant's keys.
    /// - Throws: ``BrokerError/Code/keyOutsideScope`` for another tenant's key; otherwise what the broker throws.
    public func introspect(_ key: StoreKey) async throws -> TokenIntrospection {
        try check(key)
        return try await broker.introspect(key)
    }

    /// ``Broker/evictCachedToken(for:)`` for one of this tenant's keys.
    /// - Throws: ``BrokerError/Code/keyOutsideScope`` for another tenant's key.
    public func evictCachedToken(for key: StoreKey) throws {
        try check(key)
        broker.evictCachedToken(for: key)
    }

    /// ``Broker/startAuthorization(for:redirectURI:additionalParameters:)`` for one of this tenant's keys.
    /// - Throws: ``BrokerError/Code/keyOutsideScope`` for another tenant's key; otherwise what the broker throws.
    public func startAuthorization(
        for key: StoreKey, redirectURI: String, additionalParameters: [String: String] = [:]
    ) async throws -> AuthorizationRequest {
        try check(key)
        return try await broker.startAuthorization(
            for: key, redirectURI: redirectURI, additionalParameters: additionalParameters)
    }

    /// The keys this tenant has stored at the broker's provider, in ``StoreKey/storageID`` order.
    /// - Throws: Store errors.
    public func keys() async throws -> [StoreKey] {
        try await broker.store.keys(tenant: tenant).filter(contains)
    }

    /// ``Broker/events()``, only for this tenant's keys.
    public func events() -> AsyncStream<BrokerEvent> {
        let source = broker.events()
        let scope = self
        return AsyncStream(bufferingPolicy: .bufferingNewest(1024)) { continuation in
            let task = Task {
                for await event in source where scope.contains(event.key) { continuation.yield(event) }
                continuation.finish()
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    private func check(_ key: StoreKey) throws {
        guard contains(key) else {
            throw BrokerError(
                .keyOutsideScope, "the key is not one of tenant \(tenant)'s keys at provider \(provider)",
                provider: provider)
        }
    }
}
