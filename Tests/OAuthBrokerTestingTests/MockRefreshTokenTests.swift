import Foundation
import OAuthBroker
import OAuthBrokerTesting
import Testing

@Suite("Mock server: refresh_token grant, rotation and reuse detection")
struct MockRefreshTokenTests {
    @Test("issueGrant seeds an active grant whose refresh token works over HTTP")
    func seededGrant() async throws {
        try await withServer({ $0.accessTokenLifetime = .seconds(90) }) { server in
            let grant = try server.issueGrant(clientID: confidential.id, scopes: ["read", "write"], subject: "bob")
            #expect(grant.expiresIn == .seconds(90))
            #expect(grant.scopes == ["read", "write"])
            #expect(server.isActive(accessToken: grant.accessToken))
            #expect(server.isActive(refreshToken: grant.refreshToken))
            let leaks = "\(grant)".contains(grant.accessToken.revealedValue)
            #expect(!leaks)
            let response = try await refresh(server, grant.refreshToken.revealedValue)
            #expect(response.status == 200, "\(response.text)")
            #expect(response.string("scope") == "read write")
            #expect(response.integer("expires_in") == 90)
            #expect(throws: BrokerError.invalidInput) { try server.issueGrant(clientID: "nobody") }
        }
    }

    @Test("rotation retires the presented refresh token and issues a new one")
    func rotation() async throws {
        try await withServer { server in
            let grant = try server.issueGrant(clientID: confidential.id)
            let response = try await refresh(server, grant.refreshToken.revealedValue)
            let newRefresh = try #require(response.string("refresh_token"))
            let newAccess = try #require(response.string("access_token"))
            #expect(Secret(newRefresh) != grant.refreshToken)
            #expect(Secret(newAccess) != grant.accessToken)
            #expect(!server.isActive(refreshToken: grant.refreshToken))
            #expect(server.isActive(refreshToken: Secret(newRefresh)))
            // The earlier access token stays valid until it expires.
            #expect(server.isActive(accessToken: grant.accessToken))
            #expect(server.statistics.refreshTokenRotations == 1)
            let again = try await refresh(server, newRefresh)
            #expect(again.status == 200)
        }
    }

    @Test("reusing a rotated refresh token is invalid_grant and revokes the whole family")
    func reuseDetection() async throws {
        try await withServer { server in
            let grant = try server.issueGrant(clientID: confidential.id)
            let rotated = try await refresh(server, grant.refreshToken.revealedValue)
            let newRefresh = try #require(rotated.string("refresh_token"))
            let newAccess = try #require(rotated.string("access_token"))

            let replay = try await refresh(server, grant.refreshToken.revealedValue)
            #expect(replay.status == 400)
            #expect(replay.error == "invalid_grant")
            #expect(server.statistics.familiesRevokedByReuseDetection == 1)
            #expect(!server.isActive(accessToken: grant.accessToken))
            #expect(!server.isActive(accessToken: Secret(newAccess)))
            #expect(!server.isActive(refreshToken: Secret(newRefresh)))
            let successor = try await refresh(server, newRefresh)
            #expect(successor.error == "invalid_grant")

            // Another family is untouched.
            let other = try server.issueGrant(clientID: confidential.id)
            #expect(try await refresh(server, other.refreshToken.revealedValue).status == 200)
            #expect(server.statistics.familiesRevokedByReuseDetection == 1)
        }
    }

    @Test("without family revocation a replay is refused but the successor keeps working")
    func reuseWithoutFamilyRevocation() async throws {
        try await withServer({ $0.revokesFamilyOnReuse = false }) { server in
            let grant = try server.issueGrant(clientID: confidential.id)
            let newRefresh = try #require(
                try await refresh(server, grant.refreshToken.revealedValue).string("refresh_token"))
            #expect(try await refresh(server, grant.refreshToken.revealedValue).error == "invalid_grant")
            #expect(try await refresh(server, newRefresh).status == 200)
            #expect(server.statistics.familiesRevokedByReuseDetection == 0)
        }
    }

    @Test("without rotation the response has no refresh_token and the old one stays valid")
    func noRotation() async throws {
        try await withServer({ $0.rotatesRefreshTokens = false }) { server in
            let grant = try server.issueGrant(clientID: confidential.id)
            for _ in 0..<2 {
                let response = try await refresh(server, grant.refreshToken.revealedValue)
                #expect(response.status == 200)
                #expect(!response.has("refresh_token"))
            }
            #expect(server.isActive(refreshToken: grant.refreshToken))
            #expect(server.statistics.refreshTokenRotations == 0)
        }
    }

    @Test("concurrent refreshes with one token: exactly one wins, and the losers trip reuse detection")
    func concurrentRefreshes() async throws {
        try await withServer { server in
            let grant = try server.issueGrant(clientID: confidential.id)
            let token = grant.refreshToken.revealedValue
            let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<6 { group.addTask { try await refresh(server, token).status } }
                return try await group.reduce(into: [Int]()) { $0.append($1) }
            }
            #expect(statuses.filter { $0 == 200 }.count == 1)
            #expect(statuses.filter { $0 == 400 }.count == 5)
            #expect(server.statistics.familiesRevokedByReuseDetection == 1)
            #expect(server.statistics.refreshTokenRotations == 1)
        }
    }

    @Test("a refresh token is bound to its client")
    func clientBinding() async throws {
        try await withServer { server in
            server.registerClient(id: "other", secret: Secret("o"))
            let grant = try server.issueGrant(clientID: confidential.id)
            let response = try await LoopbackHTTP.post(
                server.tokenEndpoint,
                form: [("grant_type", "refresh_token"), ("refresh_token", grant.refreshToken.revealedValue)],
                basic: ("other", "o"))
            #expect(response.error == "invalid_grant")
            #expect(server.isActive(refreshToken: grant.refreshToken))
        }
    }

    @Test("a refresh may narrow the scope but not widen it")
    func scopeOnRefresh() async throws {
        try await withServer { server in
            let grant = try server.issueGrant(clientID: confidential.id, scopes: ["read", "write"])
            let narrowed = try await refresh(server, grant.refreshToken.revealedValue, scope: "read")
            #expect(narrowed.string("scope") == "read")
            let next = try #require(narrowed.string("refresh_token"))
            let widened = try await refresh(server, next, scope: "read admin")
            #expect(widened.error == "invalid_scope")
            // The refused request did not rotate the token.
            #expect(server.isActive(refreshToken: Secret(next)))
        }
    }

    @Test("unknown and missing refresh tokens are refused")
    func unknownRefreshToken() async throws {
        try await withServer { server in
            #expect(try await refresh(server, "mrt_nonsense").error == "invalid_grant")
            let missing = try await LoopbackHTTP.post(
                server.tokenEndpoint, form: [("grant_type", "refresh_token")], basic: confidential)
            #expect(missing.error == "invalid_request")
        }
    }

    @Test("access and refresh tokens expire by the configured clock")
    func expiry() async throws {
        let clock = TestClock()
        try await withServer({
            $0.clock = clock.brokerClock
            $0.accessTokenLifetime = .seconds(60)
            $0.refreshTokenLifetime = .seconds(600)
        }) { server in
            let grant = try server.issueGrant(clientID: confidential.id)
            #expect(grant.expiresAt == clock.now.addingTimeInterval(60))
            clock.advance(by: .seconds(59))
            #expect(server.isActive(accessToken: grant.accessToken))
            clock.advance(by: .seconds(1))
            #expect(!server.isActive(accessToken: grant.accessToken))
            #expect(server.isActive(refreshToken: grant.refreshToken))
            clock.advance(by: .seconds(540))
            #expect(!server.isActive(refreshToken: grant.refreshToken))
            #expect(try await refresh(server, grant.refreshToken.revealedValue).error == "invalid_grant")
        }
    }

    @Test("expireAllAccessTokens and revokeFamily(of:) change validity without HTTP")
    func directControls() async throws {
        try await withServer { server in
            let first = try server.issueGrant(clientID: confidential.id)
            let second = try server.issueGrant(clientID: confidential.id)
            server.expireAllAccessTokens()
            #expect(!server.isActive(accessToken: first.accessToken))
            #expect(server.isActive(refreshToken: first.refreshToken))
            #expect(server.revokeFamily(of: second.refreshToken))
            #expect(!server.isActive(refreshToken: second.refreshToken))
            #expect(server.isActive(refreshToken: first.refreshToken))
            #expect(!server.revokeFamily(of: Secret("unknown")))
        }
    }
}
