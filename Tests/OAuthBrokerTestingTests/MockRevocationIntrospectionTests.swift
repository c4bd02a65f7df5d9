import Foundation
import OAuthBroker
import OAuthBrokerTesting
import Testing

@Suite("Mock server: revocation (RFC 7009) and introspection (RFC 7662)")
struct MockRevocationIntrospectionTests {
    private func revoke(_ server: MockAuthorizationServer, _ token: String, hint: String? = nil) async throws
        -> LoopbackResponse
    {
        var form = [("token", token)]
        if let hint { form.append(("token_type_hint", hint)) }
        return try await LoopbackHTTP.post(server.revocationEndpoint, form: form, basic: confidential)
    }

    private func introspect(_ server: MockAuthorizationServer, _ token: String) async throws -> LoopbackResponse {
        try await LoopbackHTTP.post(server.introspectionEndpoint, form: [("token", token)], basic: confidential)
    }

    @Test("revoking an access token deactivates it and leaves the refresh token working")
    func revokeAccessToken() async throws {
        try await withServer { server in
            let grant = try server.issueGrant(clientID: confidential.id)
            let response = try await revoke(server, grant.accessToken.revealedValue, hint: "access_token")
            #expect(response.status == 200)
            #expect(response.body.isEmpty)
            #expect(!server.isActive(accessToken: grant.accessToken))
            #expect(server.isActive(refreshToken: grant.refreshToken))
            #expect(try await refresh(server, grant.refreshToken.revealedValue).status == 200)
            #expect(server.statistics.revocations == 1)
        }
    }

    @Test("revoking a refresh token revokes its family, whatever the hint says")
    func revokeRefreshToken() async throws {
        try await withServer { server in
            let grant = try server.issueGrant(clientID: confidential.id)
            // A wrong hint must not stop the server from finding the token (RFC 7009 §2.1).
            let response = try await revoke(server, grant.refreshToken.revealedValue, hint: "access_token")
            #expect(response.status == 200)
            #expect(!server.isActive(accessToken: grant.accessToken))
            #expect(!server.isActive(refreshToken: grant.refreshToken))
            #expect(try await refresh(server, grant.refreshToken.revealedValue).error == "invalid_grant")
        }
    }

    @Test("unknown tokens are answered 200 and not counted")
    func revokeUnknown() async throws {
        try await withServer { server in
            let response = try await revoke(server, "not-a-token")
            #expect(response.status == 200)
            #expect(server.statistics.revocations == 0)
            #expect(server.statistics.requests(to: .revocation) == 1)
        }
    }

    @Test("revocation requires client authentication and a token, and only the owner may revoke")
    func revokeErrors() async throws {
        try await withServer { server in
            server.registerClient(id: "other", secret: Secret("o"))
            let grant = try server.issueGrant(clientID: confidential.id)
            let anonymous = try await LoopbackHTTP.post(
                server.revocationEndpoint, form: [("token", grant.accessToken.revealedValue)])
            #expect(anonymous.status == 401)
            #expect(anonymous.error == "invalid_client")
            let noToken = try await LoopbackHTTP.post(server.revocationEndpoint, form: [], basic: confidential)
            #expect(noToken.status == 400)
            #expect(noToken.error == "invalid_request")
            let foreign = try await LoopbackHTTP.post(
                server.revocationEndpoint, form: [("token", grant.refreshToken.revealedValue)], basic: ("other", "o"))
            #expect(foreign.status == 400)
            #expect(server.isActive(refreshToken: grant.refreshToken))
            #expect(server.isActive(accessToken: grant.accessToken))
        }
    }

    @Test("introspection of an active access token reports scope, client_id, exp, iat, sub and token_type")
    func introspectActive() async throws {
        let clock = TestClock()
        try await withServer({
            $0.clock = clock.brokerClock
            $0.accessTokenLifetime = .seconds(300)
        }) { server in
            let grant = try server.issueGrant(clientID: confidential.id, scopes: ["read", "write"], subject: "carol")
            let response = try await introspect(server, grant.accessToken.revealedValue)
            #expect(response.status == 200)
            #expect(response.header("Cache-Control") == "no-store")
            #expect(response.bool("active") == true)
            #expect(response.string("scope") == "read write")
            #expect(response.string("client_id") == confidential.id)
            #expect(response.string("sub") == "carol")
            #expect(response.string("token_type") == "Bearer")
            let issuedAt = Int64(clock.now.timeIntervalSince1970)
            #expect(response.integer("iat") == issuedAt)
            #expect(response.integer("exp") == issuedAt + 300)

            let refreshInfo = try await introspect(server, grant.refreshToken.revealedValue)
            #expect(refreshInfo.bool("active") == true)
            #expect(refreshInfo.string("token_type") == "refresh_token")

            clock.advance(by: .seconds(300))
            let expired = try await introspect(server, grant.accessToken.revealedValue)
            #expect(expired.bool("active") == false)
            #expect(expired.json?.count == 1)
        }
    }

    @Test("introspection reports revoked, rotated and unknown tokens as inactive")
    func introspectInactive() async throws {
        try await withServer { server in
            let grant = try server.issueGrant(clientID: confidential.id)
            #expect(try await introspect(server, "unknown").bool("active") == false)
            _ = try await refresh(server, grant.refreshToken.revealedValue)
            #expect(try await introspect(server, grant.refreshToken.revealedValue).bool("active") == false)
            _ = try await revoke(server, grant.accessToken.revealedValue)
            #expect(try await introspect(server, grant.accessToken.revealedValue).bool("active") == false)
            let anonymous = try await LoopbackHTTP.post(server.introspectionEndpoint, form: [("token", "x")])
            #expect(anonymous.status == 401)
        }
    }
}
