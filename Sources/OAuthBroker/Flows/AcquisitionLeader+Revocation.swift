import Foundation

extension AcquisitionLeader {
    /// Revokes the grant stored for `key` (RFC 7009) without racing a refresh.
    ///
    /// 1. Takes the key's refresh lease when the store has leases (waiting up to ``BrokerConfiguration/totalTimeout``
    ///    for a refresh in flight elsewhere to finish), so no refresh can rotate the grant in between.
    /// 2. Reads the record and marks it revoked; a token of the key held in memory only (a pending write) is
    ///    dropped.
    /// 3. Sends the refresh token (else the access token) of the record *as marked* to the revocation endpoint,
    ///    plus any newer refresh token that was held in memory only.
    ///
    /// - Returns: Whether a record existed.
    func revoke(_ key: StoreKey) async throws -> Bool {
        var lease: HeldLease?
        if store.providesRefreshLeases {
            guard
                case .held(let held) = try await takeLease(for: key, budget: configuration.totalTimeout, adopt: { nil })
            else { preconditionFailure("takeLease without adoption returns held") }
            lease = held
        }
        let marked: TokenRecord?
        let unsaved: TokenRecord?
        do {
            unsaved = await writer.discardPending(for: key)
            guard let existing = try await store.record(for: key) else {
                cache.remove(key)
                await lease?.end()
                if let unsaved { await revokeAtProvider(unsaved, key: key) }
                return false
            }
            marked = try await store.setStatus(.revoked, for: key) ?? existing
        } catch {
            await lease?.end()
            throw error
        }
        cache.remove(key)
        events.emit(.revoked, key: key, grant: nil, record: marked)
        await lease?.end()
        guard let endpoint = provider.revocationEndpoint, let marked else { return true }
        if let unsaved, unsaved.refreshToken != marked.refreshToken { await revokeAtProvider(unsaved, key: key) }
        let (token, hint) = marked.refreshToken.map { ($0, "refresh_token") } ?? (marked.accessToken, "access_token")
        let request = client.makeRequest(
            url: endpoint, form: [("token", token.revealedValue), ("token_type_hint", hint)])
        _ = try await client.send(request, flow: "revocation", grant: nil, deadline: deadline(), key: key)
        return true
    }

    /// Best effort: revokes `record`'s refresh token (else its access token) at the provider, for tokens that must
    /// not stay live (obtained for a record that was revoked or deleted meanwhile). Failures are logged.
    func revokeAtProvider(_ record: TokenRecord, key: StoreKey) async {
        guard let endpoint = provider.revocationEndpoint else { return }
        let (token, hint) = record.refreshToken.map { ($0, "refresh_token") } ?? (record.accessToken, "access_token")
        let request = client.makeRequest(
            url: endpoint, form: [("token", token.revealedValue), ("token_type_hint", hint)])
        do {
            _ = try await client.send(request, flow: "revocation", grant: nil, deadline: deadline(), key: key)
        } catch {
            logger.warning(
                "could not revoke a token obtained for a record that was revoked meanwhile",
                metadata: ["oauth.key": "\(key)", "error": "\((error as? BrokerError)?.code.description ?? "other")"])
        }
    }
}
