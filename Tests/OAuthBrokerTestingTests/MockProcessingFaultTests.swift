import Foundation
import OAuthBroker
import OAuthBrokerTesting
import Testing

@Suite("Mock server: faults after processing and altered responses")
struct MockProcessingFaultTests {
    @Test("502 after processing rotated the refresh token; presenting the old one again revokes the family")
    func badGatewayAfterProcessing() async throws {
        try await withServer { server in
            let grant = try server.issueGrant(clientID: confidential.id)
            server.enqueue(.badGatewayAfterProcessing)
            let response = try await refresh(server, grant.refreshToken.revealedValue)
            #expect(response.status == 502)
            #expect(response.header("Content-Type")?.hasPrefix("text/html") == true)
            #expect(response.text.contains("<h1>502 Bad Gateway</h1>"))
            #expect(response.json == nil)
            #expect(!response.text.contains("mrt_"))

            // Exactly one rotation happened at the provider, and the family is alive.
            var statistics = server.statistics
            #expect(statistics.requests(grant: .refreshToken) == 1)
            #expect(statistics.refreshGrantsSucceeded == 1)
            #expect(statistics.refreshTokenRotations == 1)
            #expect(statistics.refreshTokenReuses == 0)
            #expect(statistics.faultsInjected == 1)
            #expect(!server.isActive(refreshToken: grant.refreshToken))
            #expect(server.isFamilyActive(of: grant.refreshToken))
            #expect(server.isFamilyActive(of: grant.accessToken))
            let hidden = try #require(server.activeRefreshToken(inFamilyOf: grant.refreshToken))
            #expect(hidden != grant.refreshToken)
            #expect(server.isActive(refreshToken: hidden))

            // A client that retries with the token it still has is reusing a rotated token.
            let retry = try await refresh(server, grant.refreshToken.revealedValue)
            #expect(retry.status == 400)
            #expect(retry.error == "invalid_grant")
            statistics = server.statistics
            #expect(statistics.refreshTokenReuses == 1)
            #expect(statistics.familiesRevokedByReuseDetection == 1)
            #expect(statistics.refreshGrantsSucceeded == 1)
            #expect(!server.isFamilyActive(of: grant.refreshToken))
            #expect(!server.isActive(refreshToken: hidden))
            #expect(!server.isActive(accessToken: grant.accessToken))
            #expect(server.activeRefreshToken(inFamilyOf: grant.refreshToken) == nil)
            #expect(try await refresh(server, hidden.revealedValue).error == "invalid_grant")
        }
    }

    @Test("the refresh token rotated behind a 504 is the one that works next")
    func gatewayTimeoutThenHiddenToken() async throws {
        try await withServer { server in
            let grant = try server.issueGrant(clientID: confidential.id)
            server.enqueue(.gatewayTimeoutAfterProcessing)
            let response = try await refresh(server, grant.refreshToken.revealedValue)
            #expect(response.status == 504)
            #expect(response.text.contains("504 Gateway Timeout"))
            let hidden = try #require(server.activeRefreshToken(inFamilyOf: grant.accessToken))

            let next = try await refresh(server, hidden.revealedValue)
            #expect(next.status == 200)
            let latest = try #require(next.string("refresh_token"))
            #expect(server.activeRefreshToken(inFamilyOf: grant.refreshToken) == Secret(latest))
            #expect(server.isFamilyActive(of: grant.refreshToken))
            #expect(server.statistics.refreshTokenRotations == 2)
            #expect(server.statistics.familiesRevokedByReuseDetection == 0)
        }
    }

    @Test("504 after processing spends the authorization code; exchanging it again is a replay")
    func gatewayTimeoutSpendsCode() async throws {
        try await withServer { server in
            let verifier = PKCE.makeVerifier()
            let redirect = try await LoopbackHTTP.send(
                .GET, authorizationURL(server, challenge: PKCE.challenge(for: verifier)))
            let callback = try #require(redirect.header("Location").flatMap(URL.init(string:)))
            let code = try #require(queryItems(callback)["code"])

            server.enqueue(.gatewayTimeoutAfterProcessing)
            let first = try await exchange(server, code: code, verifier: verifier.revealedValue)
            #expect(first.status == 504)
            #expect(server.statistics.authorizationCodesExchanged == 1)
            #expect(server.statistics.accessTokensIssued == 1)

            let second = try await exchange(server, code: code, verifier: verifier.revealedValue)
            #expect(second.error == "invalid_grant")
            #expect(server.statistics.authorizationCodeReplays == 1)
            #expect(server.statistics.authorizationCodesExchanged == 1)
        }
    }

    @Test("respondAfterProcessing(status:) and afterProcessing(_:) answer as told after a real rotation")
    func otherAnswersAfterProcessing() async throws {
        try await withServer { server in
            let grant = try server.issueGrant(clientID: confidential.id)
            server.enqueue([
                .respondAfterProcessing(status: 500),
                .afterProcessing(.malformedJSON),
                .afterProcessing(.oauthError(.temporarilyUnavailable, status: 503)),
            ])
            var statuses: [Int] = []
            var bodies: [LoopbackResponse] = []
            for _ in 0..<3 {
                let current = try #require(server.activeRefreshToken(inFamilyOf: grant.refreshToken))
                let response = try await refresh(server, current.revealedValue)
                statuses.append(response.status)
                bodies.append(response)
                #expect(!server.isActive(refreshToken: current))
            }
            #expect(statuses == [500, 200, 503])
            #expect(bodies[0].text.contains("500 Internal Server Error"))
            #expect(throws: BrokerError.malformedResponse) { try TokenResponse(parsing: Data(bodies[1].body)) }
            #expect(bodies[2].error == "temporarily_unavailable")
            #expect(server.statistics.refreshTokenRotations == 3)
            #expect(server.isFamilyActive(of: grant.refreshToken))
        }
    }

    @Test("afterProcessing(_:) turns dropConnection into dropConnectionAfterProcessing and keeps processing faults")
    func afterProcessingOfProcessingFaults() async throws {
        #expect(
            MockAuthorizationServer.Fault.afterProcessing(.dropConnection).description
                == "dropConnectionAfterProcessing")
        #expect(MockAuthorizationServer.Fault.afterProcessing(.slowBody(delay: .seconds(1))).description == "slowBody")
        #expect(
            MockAuthorizationServer.Fault.afterProcessing(.internalServerError).description
                == "afterProcessing(internalServerError)")
        #expect(MockAuthorizationServer.Fault.badGatewayAfterProcessing.description == "badGatewayAfterProcessing")
        try await withServer { server in
            let grant = try server.issueGrant(clientID: confidential.id)
            server.enqueue(.afterProcessing(.dropConnection))
            await #expect(throws: LoopbackError.connectionClosed) {
                _ = try await refresh(server, grant.refreshToken.revealedValue)
            }
            #expect(server.statistics.refreshTokenRotations == 1)
        }
    }

    @Test("altered fields: odd minor fields next to a real, usable rotated refresh token")
    func alteredFields() async throws {
        try await withServer { server in
            let grant = try server.issueGrant(clientID: confidential.id, scopes: ["read"])
            server.enqueue(
                .alteringResponseFields([
                    "expires_in": 0, "scope": "a\"b", "id_token": 42, "token_type": nil, "x_big": .raw("1e12"),
                ]))
            let response = try await refresh(server, grant.refreshToken.revealedValue)
            #expect(response.status == 200)
            #expect(response.header("Cache-Control") == "no-store")
            #expect(response.integer("expires_in") == 0)
            #expect(response.string("scope") == "a\"b")
            #expect(response.json?["id_token"] == .number(42))
            #expect(!response.has("token_type"))
            #expect(response.text.contains(#""x_big":1e12"#))
            #expect(response.text.contains(#""scope":"a\"b""#))

            let access = try #require(response.string("access_token"))
            let refreshToken = try #require(response.string("refresh_token"))
            #expect(server.isActive(accessToken: Secret(access)))
            #expect(server.activeRefreshToken(inFamilyOf: grant.refreshToken) == Secret(refreshToken))
            #expect(server.statistics.refreshTokenRotations == 1)

            let next = try await refresh(server, refreshToken)
            #expect(next.status == 200)
            #expect(next.integer("expires_in") == 3600)
            #expect(next.string("token_type") == "Bearer")
            #expect(next.string("scope") == "read")
            #expect(server.statistics.refreshTokenRotations == 2)
            #expect(server.statistics.faultsInjected == 1)
        }
    }

    @Test("altered fields: floats, null, nested values and escapes are written as JSON")
    func alteredFieldEncoding() async throws {
        let nested = MockAuthorizationServer.JSONLiteral(
            .object(["b": .array([.bool(true), .string("\u{1}\n")]), "a": .number(1.5)]))
        #expect(nested.text == #"{"a":1.5,"b":[true,"\u0001\n"]}"#)
        #expect(MockAuthorizationServer.JSONLiteral.string("q\"\\").text == #""q\"\\""#)
        try await withServer { server in
            server.enqueue(.alteringResponseFields(["expires_in": 1e12, "id_token": .null, "extra": nested]))
            let response = try await clientCredentials(server)
            #expect(response.status == 200)
            #expect(response.text.contains(#""expires_in":1000000000000.0"#))
            #expect(response.text.contains(#""id_token":null"#))
            #expect(response.text.contains(#""extra":{"a":1.5,"b":[true,"\u0001\n"]}"#))
            #expect(response.has("access_token"))
        }
    }

    @Test("an error response is sent unaltered")
    func errorResponseNotAltered() async throws {
        try await withServer { server in
            server.enqueue(.alteringResponseFields(["x_marker": true]))
            let response = try await refresh(server, "mrt_unknown")
            #expect(response.status == 400)
            #expect(response.error == "invalid_grant")
            #expect(!response.has("x_marker"))
            #expect(server.statistics.faultsInjected == 1)
            #expect(server.statistics.refreshGrantsSucceeded == 0)
        }
    }

    @Test("without family revocation a reuse is counted but the rotated-to token keeps working")
    func reuseCountedWithoutRevocation() async throws {
        try await withServer({ $0.revokesFamilyOnReuse = false }) { server in
            let grant = try server.issueGrant(clientID: confidential.id)
            server.enqueue(.badGatewayAfterProcessing)
            #expect(try await refresh(server, grant.refreshToken.revealedValue).status == 502)
            #expect(try await refresh(server, grant.refreshToken.revealedValue).error == "invalid_grant")
            #expect(server.statistics.refreshTokenReuses == 1)
            #expect(server.statistics.familiesRevokedByReuseDetection == 0)
            #expect(server.isFamilyActive(of: grant.refreshToken))
            let hidden = try #require(server.activeRefreshToken(inFamilyOf: grant.refreshToken))
            #expect(try await refresh(server, hidden.revealedValue).status == 200)
        }
    }

    @Test("family queries answer false and nil for tokens the server never issued")
    func unknownTokens() async throws {
        try await withServer { server in
            #expect(!server.isFamilyActive(of: Secret("mrt_unknown")))
            #expect(server.activeRefreshToken(inFamilyOf: Secret("mat_unknown")) == nil)
        }
    }

    @Test("without rotation a refresh succeeds without rotating, and the same token stays active")
    func statisticsWithoutRotation() async throws {
        try await withServer({ $0.rotatesRefreshTokens = false }) { server in
            let grant = try server.issueGrant(clientID: confidential.id)
            server.enqueue(.badGatewayAfterProcessing)
            #expect(try await refresh(server, grant.refreshToken.revealedValue).status == 502)
            #expect(server.statistics.refreshGrantsSucceeded == 1)
            #expect(server.statistics.refreshTokenRotations == 0)
            #expect(server.activeRefreshToken(inFamilyOf: grant.refreshToken) == grant.refreshToken)
        }
    }
}
