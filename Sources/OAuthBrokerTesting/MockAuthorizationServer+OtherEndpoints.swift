import Foundation
import OAuthBroker

extension MockServerEngine {
    /// Where the authorization endpoint sends the user agent.
    enum AuthorizationOutcome {
        /// Redirect to this URL (the client's redirect URI with `code` or `error`, and `state`).
        case redirect(String)
        /// The request cannot be redirected (unknown client, bad redirect URI): show an error page (RFC 6749
        /// §4.1.2.1 forbids redirecting to an unverified URI).
        case errorPage(String)
    }

    /// `GET /authorize` as an HTTP response: 302 with `Location`, or a 400 HTML page.
    func authorizationResponse(
        query: String, tenant: String?, decision: MockAuthorizationServer.AuthorizationDecision?
    ) -> MockHTTPResponse {
        switch authorize(query: query, tenant: tenant, decision: decision) {
        case .redirect(let location):
            return MockHTTPResponse(
                status: 302,
                headers: [("Location", location), ("Cache-Control", "no-store"), ("Content-Type", "text/plain")],
                body: Array("redirecting\n".utf8))
        case .errorPage(let message):
            return Self.page(400, "Bad Request", message)
        }
    }

    /// Runs the authorization endpoint's logic (RFC 6749 §4.1.1-4.1.2, RFC 7636 §4.3-4.4).
    ///
    /// - Parameter decision: The user's decision, or `nil` for the server's current one.
    func authorize(
        query: String, tenant: String?, decision: MockAuthorizationServer.AuthorizationDecision?
    ) -> AuthorizationOutcome {
        let parameters: [String: String]
        do { parameters = try Self.uniqueValues(FormEncoding.decode(query)) } catch {
            return .errorPage("a parameter is repeated")
        }
        let now = now
        return state.withLock { state in
            guard let clientID = parameters["client_id"], let client = state.clients[clientID],
                tenant == nil || client.tenant == tenant
            else { return .errorPage("unknown client_id") }
            let redirectURI: String
            if let given = parameters["redirect_uri"] {
                redirectURI = given
            } else if client.redirectURIs.count == 1 {
                redirectURI = client.redirectURIs[0]
            } else {
                return .errorPage("redirect_uri is missing")
            }
            guard client.redirectURIs.isEmpty || client.redirectURIs.contains(redirectURI) else {
                return .errorPage("redirect_uri is not registered for this client")
            }
            guard let components = URLComponents(string: redirectURI), let scheme = components.scheme?.lowercased(),
                scheme == "http" || scheme == "https", components.host?.isEmpty == false, components.fragment == nil
            else { return .errorPage("redirect_uri must be an absolute http(s) URL without a fragment") }

            let separator = redirectURI.contains("?") ? "&" : "?"
            func redirect(_ pairs: [(String, String)]) -> AuthorizationOutcome {
                var pairs = pairs
                if let stateValue = parameters["state"] { pairs.append(("state", stateValue)) }
                if let issuer = configuration.authorizationResponseIssuer { pairs.append(("iss", issuer)) }
                return .redirect(redirectURI + separator + String(decoding: FormEncoding.encode(pairs), as: UTF8.self))
            }
            func error(_ code: String, _ description: String) -> AuthorizationOutcome {
                redirect([("error", code), ("error_description", description)])
            }

            guard parameters["response_type"] == "code" else {
                return error("unsupported_response_type", "only response_type=code is supported")
            }
            let challenge = parameters["code_challenge"]
            if let challenge {
                guard parameters["code_challenge_method"] == "S256" else {
                    return error("invalid_request", "transform algorithm not supported (use S256)")
                }
                guard PKCE.isValidVerifier(challenge) else {
                    return error("invalid_request", "malformed code_challenge")
                }
            } else if configuration.requiresPKCE {
                return error("invalid_request", "code_challenge is required")
            }
            guard let scopes = grantedScopes(requested: parameters["scope"]) else {
                return error("invalid_scope", "the requested scope is unknown")
            }
            let decision = decision ?? state.decision
            if let denial = decision.error {
                return error(denial.rawValue, decision.errorDescription ?? "the request was denied")
            }
            let code = Self.makeToken("mac_")
            state.codes[code] = AuthorizationCode(
                clientID: client.id, redirectURI: redirectURI, challenge: challenge, scopes: scopes,
                subject: parameters["login_hint"].flatMap { $0.isEmpty ? nil : $0 } ?? configuration.defaultSubject,
                expiresAt: now.addingTimeInterval(TimeInterval(wholeSeconds(configuration.authorizationCodeLifetime))))
            return redirect([("code", code)])
        }
    }

    /// `POST /revoke` (RFC 7009): 200 for unknown tokens too; revoking a refresh token revokes its family.
    func revoke(_ request: MockHTTPRequest, tenant: String?) throws -> MockHTTPResponse {
        let form = try Self.form(of: request)
        return try state.withLock { state in
            let client = try authenticate(request, form: form, tenant: tenant, in: state)
            guard let token = form["token"], !token.isEmpty else {
                throw OAuthFailure.invalidRequest("token is missing")
            }
            let refreshFirst = form["token_type_hint"] == "refresh_token"
            let access = state.accessTokens[token]
            let refresh = state.refreshTokens[token]
            let familyID =
                refreshFirst ? (refresh?.familyID ?? access?.familyID) : (access?.familyID ?? refresh?.familyID)
            guard let familyID, let family = state.families[familyID] else {
                return MockHTTPResponse(status: 200, headers: [("Cache-Control", "no-store")], body: [])
            }
            guard family.clientID == client.id else {
                throw OAuthFailure.invalidRequest("the token was not issued to this client")
            }
            if access != nil {
                state.accessTokens[token]?.isRevoked = true
            } else {
                revokeFamily(familyID, in: &state)
            }
            state.statistics.revocations += 1
            return MockHTTPResponse(status: 200, headers: [("Cache-Control", "no-store")], body: [])
        }
    }

    /// `POST /introspect` (RFC 7662): any authenticated client may introspect any token.
    func introspect(_ request: MockHTTPRequest, tenant: String?) throws -> MockHTTPResponse {
        let form = try Self.form(of: request)
        let now = now
        return try state.withLock { state in
            _ = try authenticate(request, form: form, tenant: tenant, in: state)
            guard let token = form["token"], !token.isEmpty else {
                throw OAuthFailure.invalidRequest("token is missing")
            }
            if isActive(accessToken: token, now: now, in: state), let record = state.accessTokens[token],
                let family = state.families[record.familyID]
            {
                var object = activeFields(family)
                object["scope"] = joined(record.scopes)
                object["exp"] = Int64(record.expiresAt.timeIntervalSince1970)
                object["iat"] = Int64(record.issuedAt.timeIntervalSince1970)
                object["token_type"] = "Bearer"
                return Self.json(object)
            }
            if isActive(refreshToken: token, now: now, in: state), let record = state.refreshTokens[token],
                let family = state.families[record.familyID]
            {
                var object = activeFields(family)
                object["scope"] = joined(family.scopes)
                if let expiresAt = record.expiresAt { object["exp"] = Int64(expiresAt.timeIntervalSince1970) }
                object["iat"] = Int64(record.issuedAt.timeIntervalSince1970)
                object["token_type"] = "refresh_token"
                return Self.json(object)
            }
            return Self.json(["active": false])
        }
    }

    private func activeFields(_ family: Family) -> [String: Any] {
        ["active": true, "client_id": family.clientID, "sub": family.subject]
    }
}
