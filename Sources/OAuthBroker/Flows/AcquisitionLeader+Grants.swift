import Foundation

extension AcquisitionLeader {
    /// Gets a new token for `key`: refresh when a refresh token is stored, else client credentials when allowed.
    func obtain(_ key: StoreKey, current: TokenRecord?, deadline: Date, lease: HeldLease?) async throws
        -> TokenRecord
    {
        if let current {
            try requireActive(current, key: key)
            if let refreshToken = current.refreshToken, provider.supports(.refreshToken) {
                return try await refreshGrant(
                    key, current: current, refreshToken: refreshToken, deadline: deadline, lease: lease)
            }
        }
        if provider.supports(.clientCredentials) {
            return try await clientCredentialsGrant(key, existing: current, deadline: deadline, lease: lease)
        }
        if current == nil {
            throw BrokerError(
                .reauthorizationRequired, "nothing is stored for this key; a user must authorize first",
                provider: provider.id, key: key)
        }
        throw BrokerError(
            .reauthorizationRequired, "the token expired and no refresh token is stored", provider: provider.id,
            key: key)
    }

    /// Refreshes `current` with `refreshToken` and stores the result by compare-and-swap.
    ///
    /// - The old refresh token is kept when the response carries none (no rotation).
    /// - A conflict adopts the other writer's record when it is usable; a revoked or re-authorization record is
    ///   never overwritten (the tokens just obtained are then revoked at the provider); a deleted record is never
    ///   recreated (``BrokerError/Code/recordDeleted``).
    /// - `invalid_grant` re-reads the store first: if another writer rotated the refresh token meanwhile, its
    ///   record is adopted, or refreshed once with the stored refresh token; only when the store still holds the
    ///   rejected refresh token is the record marked needs-reauthorization.
    func refreshGrant(
        _ key: StoreKey, current: TokenRecord, refreshToken: Secret, deadline: Date, lease: HeldLease?,
        retriesAfterRotation: Int = 1
    ) async throws -> TokenRecord {
        let response: TokenResponse
        var confirmLease: (@Sendable () async throws -> Void)?
        if let lease { confirmLease = { try await lease.confirm() } }
        do {
            response = try await client.tokenRequest(
                grant: .refreshToken, parameters: [("refresh_token", refreshToken.revealedValue)], deadline: deadline,
                key: key, beforeSend: confirmLease)
        } catch let error as BrokerError where error.code == .invalidGrant {
            return try await handleInvalidGrant(
                key, sent: refreshToken, error: error, deadline: deadline, lease: lease,
                retriesAfterRotation: retriesAfterRotation)
        }
        let new = makeRecord(from: response, previous: current, key: key)
        let rotated = response.refreshToken.map { $0 != refreshToken } ?? false
        let (stored, adopted) = try await persistObtained(
            new, for: key, replacing: current, recreatesMissing: false, lease: lease)
        events.emit(adopted ? .adopted : .refreshed, key: key, grant: .refreshToken, record: stored, rotated: rotated)
        return stored
    }

    private func handleInvalidGrant(
        _ key: StoreKey, sent: Secret, error: BrokerError, deadline: Date, lease: HeldLease?, retriesAfterRotation: Int
    ) async throws -> TokenRecord {
        guard var latest = try await store.record(for: key) else {
            throw BrokerError(
                .recordDeleted, "the record was deleted during the refresh", provider: provider.id, key: key)
        }
        for _ in 0..<4 {
            if latest.refreshToken != sent {
                // Another writer rotated the grant: its refresh token is the live one.
                try requireActive(latest, key: key)
                if !latest.isExpired(at: configuration.clock.now()) {
                    events.emit(.adopted, key: key, grant: nil, record: latest)
                    return latest
                }
                guard retriesAfterRotation > 0, let newer = latest.refreshToken else {
                    throw error.adding(provider: provider.id, key: key)
                }
                return try await refreshGrant(
                    key, current: latest, refreshToken: newer, deadline: deadline, lease: lease,
                    retriesAfterRotation: retriesAfterRotation - 1)
            }
            // Never turn a revoked (or already marked) record into another status.
            try requireActive(latest, key: key)
            var marked = latest
            marked.status = .needsReauthorization
            switch try await store.compareAndSwap(key, expecting: latest.version, with: marked) {
            case .swapped(let stored):
                cache.remove(key)
                logger.notice(
                    "grant rejected by the provider; re-authorization required",
                    metadata: [
                        "oauth.key": "\(key)", "oauth.provider": "\(provider.id)", "oauth.flow": "refresh_token",
                    ])
                events.emit(.needsReauthorization, key: key, grant: .refreshToken, record: stored)
                throw error.adding(provider: provider.id, key: key)
            case .conflict(let winner):
                latest = winner
            case .missing:
                throw BrokerError(
                    .recordDeleted, "the record was deleted during the refresh", provider: provider.id, key: key)
            }
        }
        throw error.adding(provider: provider.id, key: key)
    }

    /// Fetches a token with the client-credentials grant for `key`'s scopes and stores it.
    func clientCredentialsGrant(_ key: StoreKey, existing: TokenRecord?, deadline: Date, lease: HeldLease?)
        async throws -> TokenRecord
    {
        var parameters: [(String, String)] = []
        if !key.scopes.isEmpty { parameters.append(("scope", key.scopes.joined(by: provider.scopeDelimiter))) }
        let response = try await client.tokenRequest(
            grant: .clientCredentials, parameters: parameters, deadline: deadline, key: key)
        let new = makeRecord(from: response, previous: existing, key: key)
        let (stored, adopted) = try await persistObtained(
            new, for: key, replacing: existing, recreatesMissing: true, lease: lease)
        events.emit(adopted ? .adopted : .issued, key: key, grant: .clientCredentials, record: stored)
        return stored
    }

    /// Stores tokens just obtained (adopting a usable winner). When the record turned out revoked meanwhile, the
    /// new tokens are revoked at the provider too, so no token of a revoked grant stays live.
    private func persistObtained(
        _ new: TokenRecord, for key: StoreKey, replacing existing: TokenRecord?, recreatesMissing: Bool,
        lease: HeldLease?
    ) async throws -> (TokenRecord, adopted: Bool) {
        do {
            return try await writer.persist(
                new, for: key, replacing: existing, policy: .adoptUsable, recreatesMissing: recreatesMissing,
                lease: lease)
        } catch let error as BrokerError where error.code == .tokenRevoked || error.code == .recordDeleted {
            cache.remove(key)
            await revokeAtProvider(new, key: key)
            throw error
        }
    }

    /// Builds the record to store from a token response.
    func makeRecord(from response: TokenResponse, previous: TokenRecord?, key: StoreKey) -> TokenRecord {
        let now = configuration.clock.now()
        let lifetime = response.expiresIn ?? configuration.refreshPolicy.defaultLifetime
        return TokenRecord(
            accessToken: response.accessToken,
            refreshToken: response.refreshToken ?? previous?.refreshToken,
            tokenType: response.tokenType,
            scopes: response.scope ?? previous?.scopes ?? key.scopes,
            issuedAt: now,
            expiresAt: now.addingTimeInterval(lifetime.timeInterval),
            idToken: response.idToken ?? previous?.idToken,
            extraFields: response.extraFields,
            version: previous?.version ?? 0,
            status: .active)
    }
}
