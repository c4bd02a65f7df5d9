import Foundation
import OAuthBroker

extension MockServerEngine {
    /// `POST /token` (RFC 6749 §4.1.3, §4.4, §6; RFC 7636 §4.5-4.6).
    func token(_ request: MockHTTPRequest, tenant: String?) throws -> MockHTTPResponse {
        let form = try Self.form(of: request)
        let now = now
        return try state.withLock { state in
            let client = try authenticate(request, form: form, tenant: tenant, in: state)
            guard let grant = form["grant_type"], !grant.isEmpty else {
                throw OAuthFailure.invalidRequest("grant_type is missing")
            }
            switch grant {
            case "client_credentials":
                return try clientCredentials(form, client: client, now: now, in: &state)
            case "authorization_code":
                return try authorizationCode(form, client: client, now: now, in: &state)
            case "refresh_token":
                return try refresh(form, client: client, now: now, in: &state)
            default:
                throw OAuthFailure(
                    status: 400, code: "unsupported_grant_type",
                    description: "grant_type \(grant.prefix(64)) is not supported")
            }
        }
    }

    /// Authenticates the client by `client_secret_basic`, `client_secret_post`, or as a public client (`client_id`
    /// only, for clients registered without a secret). Every failure is `401 invalid_client`, except using two
    /// methods at once (`400 invalid_request`, RFC 6749 §2.3).
    func authenticate(
        _ request: MockHTTPRequest, form: [String: String], tenant: String?, in state: State
    ) throws -> Client {
        let presentedID: String
        let presentedSecret: String?
        let method: ProviderDescriptor.ClientAuthentication
        if let basic = Self.basicCredentials(request.header("Authorization")) {
            guard !basic.id.isEmpty else { throw OAuthFailure.invalidClient("malformed Basic credentials") }
            guard form["client_secret"] == nil else {
                throw OAuthFailure.invalidRequest("the client used more than one authentication method")
            }
            if let bodyID = form["client_id"], bodyID != basic.id {
                throw OAuthFailure.invalidClient("client_id does not match the Basic credentials")
            }
            (presentedID, presentedSecret, method) = (basic.id, basic.secret, .clientSecretBasic)
        } else if let id = form["client_id"], let secret = form["client_secret"] {
            (presentedID, presentedSecret, method) = (id, secret, .clientSecretPost)
        } else if let id = form["client_id"] {
            (presentedID, presentedSecret, method) = (id, nil, .none)
        } else {
            throw OAuthFailure.invalidClient("client authentication is required")
        }
        guard let client = state.clients[presentedID] else {
            throw OAuthFailure.invalidClient("client authentication failed")
        }
        if let tenant, client.tenant != tenant {
            throw OAuthFailure.invalidClient("client authentication failed")
        }
        switch (client.secret, presentedSecret) {
        case (let expected?, let presented?):
            guard expected == Secret(presented) else {
                throw OAuthFailure.invalidClient("client authentication failed")
            }
        case (nil, nil):
            break
        default:
            throw OAuthFailure.invalidClient("client authentication failed")
        }
        if let methods = client.authenticationMethods, !methods.contains(method) {
            throw OAuthFailure.invalidClient("the client may not use \(method)")
        }
        return client
    }

    private func clientCredentials(
        _ form: [String: String], client: Client, now: Date, in state: inout State
    ) throws -> MockHTTPResponse {
        guard client.secret != nil else {
            throw OAuthFailure(
                status: 400, code: "unauthorized_client", description: "a public client may not use client_credentials")
        }
        guard let scopes = grantedScopes(requested: form["scope"]) else {
            throw OAuthFailure.invalidScope("the requested scope is unknown")
        }
        let issued = issue(
            clientID: client.id, subject: client.id, scopes: scopes,
            withRefreshToken: configuration.issuesRefreshTokenForClientCredentials, now: now, in: &state)
        return tokenResponse(issued, scopes: scopes)
    }

    private func authorizationCode(
        _ form: [String: String], client: Client, now: Date, in state: inout State
    ) throws -> MockHTTPResponse {
        guard let code = form["code"], !code.isEmpty else { throw OAuthFailure.invalidRequest("code is missing") }
        guard var record = state.codes[code] else {
            throw OAuthFailure.invalidGrant("the authorization code is invalid")
        }
        if record.isUsed {
            state.statistics.authorizationCodeReplays += 1
            if configuration.revokesFamilyOnReuse, let family = record.familyID { revokeFamily(family, in: &state) }
            throw OAuthFailure.invalidGrant("the authorization code was already used")
        }
        // Any presentation by an authenticated client burns the code, even a failed one.
        record.isUsed = true
        state.codes[code] = record
        guard record.clientID == client.id else {
            throw OAuthFailure.invalidGrant("the authorization code was issued to another client")
        }
        guard now < record.expiresAt else { throw OAuthFailure.invalidGrant("the authorization code expired") }
        guard let redirectURI = form["redirect_uri"] else {
            throw OAuthFailure.invalidRequest("redirect_uri is missing")
        }
        guard redirectURI == record.redirectURI else {
            throw OAuthFailure.invalidGrant("redirect_uri does not match the authorization request")
        }
        let verifier = form["code_verifier"]
        if let challenge = record.challenge {
            guard let verifier else { throw OAuthFailure.invalidGrant("code_verifier is missing") }
            guard PKCE.isValidVerifier(verifier), Secret(PKCE.challenge(for: Secret(verifier))) == Secret(challenge)
            else { throw OAuthFailure.invalidGrant("PKCE verification failed") }
        } else if verifier != nil {
            throw OAuthFailure.invalidGrant("code_verifier sent but the authorization request had no code_challenge")
        }
        let issued = issue(
            clientID: client.id, subject: record.subject, scopes: record.scopes,
            withRefreshToken: configuration.issuesRefreshTokenForAuthorizationCode, now: now, in: &state)
        record.familyID = issued.familyID
        state.codes[code] = record
        state.statistics.authorizationCodesExchanged += 1
        return tokenResponse(issued, scopes: record.scopes)
    }

    private func refresh(
        _ form: [String: String], client: Client, now: Date, in state: inout State
    ) throws -> MockHTTPResponse {
        guard let token = form["refresh_token"], !token.isEmpty else {
            throw OAuthFailure.invalidRequest("refresh_token is missing")
        }
        guard var record = state.refreshTokens[token], let family = state.families[record.familyID] else {
            throw OAuthFailure.invalidGrant("the refresh token is invalid")
        }
        guard family.clientID == client.id else {
            throw OAuthFailure.invalidGrant("the refresh token was issued to another client")
        }
        guard !family.isRevoked else { throw OAuthFailure.invalidGrant("the refresh token was revoked") }
        if let expiresAt = record.expiresAt, now >= expiresAt {
            throw OAuthFailure.invalidGrant("the refresh token expired")
        }
        if record.isRotated {
            state.statistics.refreshTokenReuses += 1
            if configuration.revokesFamilyOnReuse {
                revokeFamily(record.familyID, in: &state)
                state.statistics.familiesRevokedByReuseDetection += 1
            }
            throw OAuthFailure.invalidGrant("refresh token reuse detected")
        }
        var scopes = family.scopes
        let requested = self.scopes(in: form["scope"])
        if !requested.isEmpty {
            guard Set(requested).isSubset(of: family.scopes) else {
                throw OAuthFailure.invalidScope("the requested scope exceeds the original grant")
            }
            scopes = requested
        }
        var newRefreshToken: String?
        if configuration.rotatesRefreshTokens {
            record.isRotated = true
            state.refreshTokens[token] = record
            state.statistics.refreshTokenRotations += 1
            newRefreshToken = addRefreshToken(family: record.familyID, now: now, in: &state)
        }
        let access = addAccessToken(family: record.familyID, scopes: scopes, now: now, in: &state)
        state.statistics.refreshGrantsSucceeded += 1
        return tokenResponse(
            Issued(familyID: record.familyID, accessToken: access, refreshToken: newRefreshToken), scopes: scopes)
    }

    // MARK: - Issuing

    struct Issued {
        var familyID: Int
        var accessToken: String
        var refreshToken: String?
    }

    /// Starts a grant family and issues its first tokens.
    func issue(
        clientID: String, subject: String, scopes: [String], withRefreshToken: Bool, now: Date, in state: inout State
    ) -> Issued {
        let familyID = state.nextFamilyID
        state.nextFamilyID += 1
        state.families[familyID] = Family(clientID: clientID, subject: subject, scopes: scopes)
        let access = addAccessToken(family: familyID, scopes: scopes, now: now, in: &state)
        let refresh = withRefreshToken ? addRefreshToken(family: familyID, now: now, in: &state) : nil
        return Issued(familyID: familyID, accessToken: access, refreshToken: refresh)
    }

    private func addAccessToken(family: Int, scopes: [String], now: Date, in state: inout State) -> String {
        let token = Self.makeToken("mat_")
        let lifetime = TimeInterval(wholeSeconds(configuration.accessTokenLifetime))
        state.accessTokens[token] = AccessTokenState(
            familyID: family, scopes: scopes, issuedAt: now, expiresAt: now.addingTimeInterval(lifetime))
        state.families[family]?.accessTokens.append(token)
        state.statistics.accessTokensIssued += 1
        return token
    }

    private func addRefreshToken(family: Int, now: Date, in state: inout State) -> String {
        let token = Self.makeToken("mrt_")
        let expiresAt = configuration.refreshTokenLifetime.map {
            now.addingTimeInterval(TimeInterval(wholeSeconds($0)))
        }
        state.refreshTokens[token] = RefreshTokenState(familyID: family, issuedAt: now, expiresAt: expiresAt)
        state.families[family]?.refreshTokens.append(token)
        return token
    }

    /// Marks a family revoked: every access and refresh token in it stops being valid.
    func revokeFamily(_ id: Int, in state: inout State) {
        state.families[id]?.isRevoked = true
    }

    private func tokenResponse(_ issued: Issued, scopes: [String]) -> MockHTTPResponse {
        var object: [String: Any] = [
            "access_token": issued.accessToken, "token_type": "Bearer",
            "expires_in": wholeSeconds(configuration.accessTokenLifetime),
        ]
        if let refresh = issued.refreshToken { object["refresh_token"] = refresh }
        if !scopes.isEmpty { object["scope"] = joined(scopes) }
        return Self.json(object)
    }

    // MARK: - Validity

    /// Whether `token` is an unexpired, unrevoked access token.
    func isActive(accessToken token: String, now: Date, in state: State) -> Bool {
        guard let record = state.accessTokens[token], !record.isRevoked,
            let family = state.families[record.familyID], !family.isRevoked
        else { return false }
        return now < record.expiresAt
    }

    /// Whether `token` is a refresh token that would be accepted now (not rotated, revoked or expired).
    func isActive(refreshToken token: String, now: Date, in state: State) -> Bool {
        guard let record = state.refreshTokens[token], !record.isRotated,
            let family = state.families[record.familyID], !family.isRevoked
        else { return false }
        return record.expiresAt.map { now < $0 } ?? true
    }

    /// The family of `token`, an access or refresh token (current, rotated away or expired), or `nil`.
    func familyID(of token: String, in state: State) -> Int? {
        state.accessTokens[token]?.familyID ?? state.refreshTokens[token]?.familyID
    }
}
