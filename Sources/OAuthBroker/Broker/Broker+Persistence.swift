import Foundation

/// How ``Broker/persist(_:for:replacing:policy:recreatesMissing:)`` resolves a lost race.
enum ConflictPolicy {
    /// Adopt the winner's record if it is active and unexpired; otherwise retry over it. Never overwrite a
    /// revoked or needs-reauthorization record.
    case adoptUsable
    /// Replace whatever is there: a user has just granted access again.
    case overwrite
}

extension Broker {
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

    /// Stores `new` over `existing` (by compare-and-swap) or as a new record (insert), resolving lost races by
    /// `policy`. Bounded to eight rounds.
    ///
    /// - Returns: The stored record, and whether it is another writer's record that was adopted.
    func persist(
        _ new: TokenRecord, for key: StoreKey, replacing existing: TokenRecord?, policy: ConflictPolicy,
        recreatesMissing: Bool = false
    ) async throws -> (TokenRecord, adopted: Bool) {
        var expected = existing
        for _ in 0..<8 {
            let winner: TokenRecord
            if let current = expected {
                switch try await swapRecord(key, expecting: current.version, with: new) {
                case .swapped(let stored):
                    return (stored, false)
                case .missing:
                    guard recreatesMissing else {
                        throw BrokerError(
                            .recordDeleted, "the record was deleted while a token was obtained; it is not recreated",
                            provider: provider.id, key: key)
                    }
                    expected = nil
                    continue
                case .conflict(let current):
                    winner = current
                }
            } else {
                var fresh = new
                fresh.version = TokenRecord.initialVersion(at: configuration.clock.now())
                switch try await storeCall("insert", key, { try await self.store.insert(fresh, for: key) }) {
                case .inserted(let stored): return (stored, false)
                case .exists(let current): winner = current
                }
            }
            if policy == .adoptUsable {
                try requireActive(winner, key: key)
                if !winner.isExpired(at: configuration.clock.now()) { return (winner, true) }
            }
            expected = winner
        }
        throw BrokerError(.storeFailed, "lost eight store races in a row", provider: provider.id, key: key)
    }
}
