import Foundation

extension Broker {
    /// Refreshes `current` with its refresh token and stores the result by compare-and-swap.
    ///
    /// - The old refresh token is kept when the response carries none (no rotation).
    /// - A conflict adopts the other writer's record when it is usable; a revoked or re-authorization record is
    ///   never overwritten; a deleted record is never recreated (``BrokerError/Code/recordDeleted``).
    /// - `invalid_grant` re-reads the store first: if another writer rotated the record meanwhile, its record is
    ///   adopted; otherwise the record is marked needs-reauthorization and ``BrokerError/Code/invalidGrant`` thrown.
    func refreshGrant(_ key: StoreKey, current: TokenRecord, refreshToken: Secret, deadline: Date) async throws
        -> TokenRecord
    {
        let response: TokenResponse
        do {
            response = try await tokenRequest(
                grant: .refreshToken, parameters: [("refresh_token", refreshToken.revealedValue)], deadline: deadline,
                key: key)
        } catch let error as BrokerError where error.code == .invalidGrant {
            return try await handleInvalidGrant(key, current: current, error: error)
        }
        let new = makeRecord(from: response, previous: current, key: key)
        let rotated = response.refreshToken.map { $0 != refreshToken } ?? false
        let (stored, adopted) = try await persist(new, for: key, replacing: current, policy: .adoptUsable)
        emit(adopted ? .adopted : .refreshed, key: key, grant: .refreshToken, record: stored, rotated: rotated)
        return stored
    }

    private func handleInvalidGrant(_ key: StoreKey, current: TokenRecord, error: BrokerError) async throws
        -> TokenRecord
    {
        let now = configuration.clock.now()
        guard let latest = try await loadRecord(key) else {
            throw BrokerError(
                .recordDeleted, "the record was deleted during the refresh", provider: provider.id, key: key)
        }
        if latest.version != current.version {
            try requireActive(latest, key: key)
            if !latest.isExpired(at: now) {
                emit(.adopted, key: key, grant: nil, record: latest)
                return latest
            }
        }
        var marked = latest
        marked.status = .needsReauthorization
        switch try await swapRecord(key, expecting: latest.version, with: marked) {
        case .swapped(let stored):
            cache.remove(key)
            logger.notice(
                "grant rejected by the provider; re-authorization required",
                metadata: ["oauth.key": "\(key)", "oauth.provider": "\(provider.id)", "oauth.flow": "refresh_token"])
            emit(.needsReauthorization, key: key, grant: .refreshToken, record: stored)
            throw error.adding(provider: provider.id, key: key)
        case .conflict(let winner):
            try requireActive(winner, key: key)
            guard !winner.isExpired(at: now) else { throw error.adding(provider: provider.id, key: key) }
            emit(.adopted, key: key, grant: nil, record: winner)
            return winner
        case .missing:
            throw BrokerError(
                .recordDeleted, "the record was deleted during the refresh", provider: provider.id, key: key)
        }
    }
}

extension Broker {
    /// Fetches a token with the client-credentials grant for `key`'s scopes and stores it.
    func clientCredentialsGrant(_ key: StoreKey, existing: TokenRecord?, deadline: Date) async throws -> TokenRecord {
        var parameters: [(String, String)] = []
        if !key.scopes.isEmpty { parameters.append(("scope", key.scopes.joined(by: provider.scopeDelimiter))) }
        let response = try await tokenRequest(
            grant: .clientCredentials, parameters: parameters, deadline: deadline, key: key)
        let new = makeRecord(from: response, previous: existing, key: key)
        let (stored, adopted) = try await persist(
            new, for: key, replacing: existing, policy: .adoptUsable, recreatesMissing: true)
        emit(adopted ? .adopted : .issued, key: key, grant: .clientCredentials, record: stored)
        return stored
    }
}
