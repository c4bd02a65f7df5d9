import Foundation
import OAuthBroker
import OAuthBrokerTesting
import Testing

@Suite("Mock server: scripted faults")
struct MockFaultTests {
    @Test("429 carries Retry-After in seconds and an HTML body, and issues nothing")
    func tooManyRequests() async throws {
        try await withServer { server in
            server.enqueue(.tooManyRequests(retryAfter: .milliseconds(1500)))
            let response = try await clientCredentials(server)
            #expect(response.status == 429)
            #expect(response.header("Retry-After") == "2")
            #expect(response.header("Content-Type")?.hasPrefix("text/html") == true)
            #expect(response.json == nil)
            #expect(server.statistics.accessTokensIssued == 0)
            #expect(server.statistics.faultsInjected == 1)
            // The fault was consumed: the next request succeeds.
            #expect(try await clientCredentials(server).status == 200)
        }
    }

    @Test("503 carries Retry-After; without one, none is sent")
    func serviceUnavailable() async throws {
        try await withServer { server in
            server.enqueue([.serviceUnavailable(retryAfter: .seconds(7)), .serviceUnavailable(retryAfter: nil)])
            let first = try await clientCredentials(server)
            #expect(first.status == 503)
            #expect(first.header("Retry-After") == "7")
            let second = try await clientCredentials(server)
            #expect(second.status == 503)
            #expect(second.header("Retry-After") == nil)
        }
    }

    @Test("500 answers with an HTML page and no OAuth error")
    func internalServerError() async throws {
        try await withServer { server in
            server.enqueue(.internalServerError)
            let response = try await clientCredentials(server)
            #expect(response.status == 500)
            #expect(response.text.contains("<html>"))
            #expect(ResponseClassifier.oauthError(in: Data(response.body)) == nil)
        }
    }

    @Test("malformed JSON and a JSON without access_token fail token-response parsing")
    func malformedBodies() async throws {
        try await withServer { server in
            server.enqueue([.malformedJSON, .missingAccessToken])
            let malformed = try await clientCredentials(server)
            #expect(malformed.status == 200)
            #expect(malformed.header("Content-Type") == "application/json")
            #expect(throws: BrokerError.malformedResponse) { try TokenResponse(parsing: Data(malformed.body)) }
            let missing = try await clientCredentials(server)
            #expect(missing.status == 200)
            #expect(missing.json != nil)
            #expect(!missing.has("access_token"))
            #expect(throws: BrokerError.malformedResponse) { try TokenResponse(parsing: Data(missing.body)) }
            #expect(server.statistics.accessTokensIssued == 0)
        }
    }

    @Test("a slow body sends the processed response's head at once and withholds the body")
    func slowBody() async throws {
        try await withServer { server in
            server.enqueue(.slowBody(delay: .seconds(600)))
            let basic = FormEncoding.basicAuthorization(
                clientID: confidential.id, clientSecret: Secret(confidential.secret))
            try await LoopbackConnection.with(port: server.port) { connection in
                let head = try await connection.sendReadingHead(
                    .POST, "/token",
                    headers: [("Content-Type", "application/x-www-form-urlencoded"), ("Authorization", basic)],
                    body: Array("grant_type=client_credentials".utf8))
                #expect(head.status == 200)
                #expect((Int(head.header("Content-Length") ?? "") ?? 0) > 0)
                // The request was processed before the head went out.
                #expect(server.statistics.accessTokensIssued == 1)
                // Had the body been sent with the head, it would arrive before the close (TCP keeps order).
                try await server.shutdown()
                await #expect(throws: LoopbackError.connectionClosed) { _ = try await connection.readBody() }
            }
        }
        try await withServer { server in
            server.enqueue(.slowBody(delay: .milliseconds(50)))
            let response = try await clientCredentials(server)
            #expect(response.status == 200)
            #expect(response.has("access_token"))
        }
    }

    @Test("a slow response processes the request after the delay")
    func slowResponse() async throws {
        try await withServer { server in
            server.enqueue(.slowResponse(delay: .milliseconds(200)))
            let start = ContinuousClock.now
            let response = try await clientCredentials(server)
            #expect(response.status == 200)
            #expect(start.duration(to: response.headArrival) >= .milliseconds(200))
        }
    }

    @Test("a dropped connection gets no response and the request is not processed")
    func dropConnection() async throws {
        try await withServer { server in
            let grant = try server.issueGrant(clientID: confidential.id)
            server.enqueue(.dropConnection)
            await #expect(throws: LoopbackError.connectionClosed) {
                _ = try await refresh(server, grant.refreshToken.revealedValue)
            }
            #expect(server.isActive(refreshToken: grant.refreshToken))
            #expect(server.statistics.refreshTokenRotations == 0)
        }
    }

    @Test("a connection dropped after processing loses the rotated refresh token")
    func dropAfterProcessing() async throws {
        try await withServer { server in
            let grant = try server.issueGrant(clientID: confidential.id)
            server.enqueue(.dropConnectionAfterProcessing)
            await #expect(throws: LoopbackError.connectionClosed) {
                _ = try await refresh(server, grant.refreshToken.revealedValue)
            }
            #expect(!server.isActive(refreshToken: grant.refreshToken))
            #expect(server.statistics.refreshTokenRotations == 1)
            // Retrying with the old token is now a reuse.
            #expect(try await refresh(server, grant.refreshToken.revealedValue).error == "invalid_grant")
            #expect(server.statistics.familiesRevokedByReuseDetection == 1)
        }
    }

    @Test("a redirect points elsewhere and issues nothing")
    func redirect() async throws {
        try await withServer { server in
            server.enqueue(.redirect(to: "http://127.0.0.1:9/elsewhere", status: 307))
            let response = try await clientCredentials(server)
            #expect(response.status == 307)
            #expect(response.header("Location") == "http://127.0.0.1:9/elsewhere")
            #expect(server.statistics.accessTokensIssued == 0)
        }
    }

    @Test("an oversized body has exactly the requested size")
    func oversizedBody() async throws {
        try await withServer { server in
            server.enqueue(.oversizedBody(byteCount: 3_000_000))
            let response = try await clientCredentials(server)
            #expect(response.status == 200)
            #expect(response.body.count == 3_000_000)
            #expect(response.header("Content-Length") == "3000000")
        }
    }

    @Test("custom responses and OAuth errors are sent verbatim")
    func customResponses() async throws {
        try await withServer { server in
            server.enqueue([
                .response(status: 418, headers: [("X-Teapot", "yes")], body: "short and stout"),
                .oauthError(.invalidGrant, description: "spurious"),
                .oauthError(.temporarilyUnavailable, status: 200),
            ])
            let teapot = try await clientCredentials(server)
            #expect(teapot.status == 418)
            #expect(teapot.header("X-Teapot") == "yes")
            #expect(teapot.text == "short and stout")
            let invalid = try await clientCredentials(server)
            #expect(invalid.status == 400)
            #expect(invalid.error == "invalid_grant")
            #expect(invalid.string("error_description") == "spurious")
            let disguised = try await clientCredentials(server)
            #expect(disguised.status == 200)
            #expect(disguised.error == "temporarily_unavailable")
        }
    }

    @Test("faults are FIFO per endpoint and only consumed by their endpoint")
    func queueing() async throws {
        try await withServer { server in
            server.enqueue(.internalServerError, for: .revocation)
            server.enqueue([.tooManyRequests(), .serviceUnavailable()])
            #expect(server.pendingFaultCount(for: .token) == 2)
            #expect(server.pendingFaultCount(for: .revocation) == 1)
            #expect(try await clientCredentials(server).status == 429)
            #expect(try await clientCredentials(server).status == 503)
            #expect(try await clientCredentials(server).status == 200)
            #expect(server.pendingFaultCount(for: .token) == 0)
            let revoke = try await LoopbackHTTP.post(
                server.revocationEndpoint, form: [("token", "x")], basic: confidential)
            #expect(revoke.status == 500)
            server.enqueue(.tooManyRequests(), for: .introspection)
            server.removeAllFaults()
            #expect(server.pendingFaultCount(for: .introspection) == 0)
            #expect(server.statistics.faultsInjected == 3)
        }
    }

    @Test("faults apply to the authorization endpoint too")
    func authorizationEndpointFault() async throws {
        try await withServer { server in
            server.enqueue(.serviceUnavailable(), for: .authorization)
            let url = authorizationURL(server, challenge: PKCE.challenge(for: PKCE.makeVerifier()))
            let first = try await LoopbackHTTP.send(.GET, url)
            let second = try await LoopbackHTTP.send(.GET, url)
            #expect(first.status == 503)
            #expect(second.status == 302)
        }
    }
}
