import Foundation
import OAuthBroker
import OAuthBrokerTesting
import Testing

@Suite struct ClientCredentialsFlowTests {
    @Test("1000 concurrent callers on a cold key ride exactly one token request")
    func herdOnColdKey() async throws {
        let transport = FakeTransport(latency: .milliseconds(50))
        let broker = Fixtures.broker(transport: transport)
        let key = Fixtures.key()
        let tokens = try await withThrowingTaskGroup(of: String.self) { group in
            for _ in 0..<1000 {
                group.addTask { try await broker.accessToken(for: key).value.revealedValue }
            }
            return try await group.reduce(into: [String]()) { $0.append($1) }
        }
        #expect(transport.requestCount(grant: .clientCredentials) == 1)
        #expect(Set(tokens) == ["at-1"])
        #expect(tokens.count == 1000)
        #expect(broker.inFlightCount == 0)
    }

    @Test func cachedWhileFreshThenRefetchedWhenStale() async throws {
        let clock = TestClock()
        let transport = FakeTransport(responder: .issuingTokens(expiresIn: 3600))
        let broker = Fixtures.broker(transport: transport, clock: clock) {
            $0.staleTokenBehavior = .waitForRefresh
        }
        let key = Fixtures.key()
        let first = try await broker.accessToken(for: key)
        #expect(first.value == Secret("at-1"))
        #expect(first.scopes == ["read"])
        clock.advance(by: .seconds(3000))
        #expect(try await broker.accessToken(for: key).value == Secret("at-1"))
        #expect(transport.requestCount == 1)
        // Past 90% of the lifetime plus the largest jitter the token is stale.
        clock.advance(by: .seconds(600))
        #expect(try await broker.accessToken(for: key).value == Secret("at-2"))
        #expect(transport.requestCount(grant: .clientCredentials) == 2)
    }

    @Test func requestCarriesScopeAndBasicAuthentication() async throws {
        let transport = FakeTransport()
        let broker = Fixtures.broker(transport: transport)
        _ = try await broker.accessToken(for: Fixtures.key(scopes: ["write", "read"]))
        let request = try #require(transport.requests.first)
        #expect(request.grantType == "client_credentials")
        #expect(request.field("scope") == "read write")
        #expect(request.field("client_secret") == nil)
        #expect(request.request.headers["Authorization"]?.hasPrefix("Basic ") == true)
        #expect(request.request.headers["Content-Type"] == "application/x-www-form-urlencoded")
        #expect(request.request.headers["Accept"] == "application/json")
    }

    @Test func clientSecretPostPutsCredentialsInTheBody() async throws {
        let transport = FakeTransport()
        let broker = Fixtures.broker(provider: Fixtures.provider(auth: .clientSecretPost), transport: transport)
        _ = try await broker.accessToken(for: Fixtures.key())
        let request = try #require(transport.requests.first)
        #expect(request.field("client_id") == "client-1")
        #expect(request.field("client_secret") == "s3cr3t-client")
        #expect(request.request.headers["Authorization"] == nil)
    }

    @Test("a missing expires_in uses the policy's default lifetime")
    func missingExpiresIn() async throws {
        let clock = TestClock()
        let transport = FakeTransport()
        transport.enqueue(.response(FakeTransport.tokenResponse(accessToken: "no-expiry", expiresIn: nil)))
        let store = MemoryStore()
        let broker = Fixtures.broker(store: store, transport: transport, clock: clock)
        let token = try await broker.accessToken(for: Fixtures.key())
        #expect(token.expiresAt == clock.now.addingTimeInterval(3600))
        let stored = try #require(try await store.record(for: Fixtures.key()))
        #expect(stored.expiresAt == clock.now.addingTimeInterval(3600))
    }

    @Test("stale tokens are served while one background refresh runs")
    func serveStaleWhileRefreshing() async throws {
        let clock = TestClock()
        let transport = FakeTransport(latency: .milliseconds(20), responder: .issuingTokens(expiresIn: 100))
        let broker = Fixtures.broker(transport: transport, clock: clock)
        let key = Fixtures.key()
        _ = try await broker.accessToken(for: key)
        clock.advance(by: .seconds(75))  // stale (leeway 30-50 s, capped at half of 100 s), not expired
        var served: [String] = []
        for _ in 0..<50 { served.append(try await broker.accessToken(for: key).value.revealedValue) }
        #expect(served.allSatisfy { $0 == "at-1" })
        #expect(try await eventually { try await broker.accessToken(for: key).value == Secret("at-2") })
        #expect(transport.requestCount(grant: .clientCredentials) == 2)
    }

    @Test("an expired token blocks on the refresh")
    func expiredBlocks() async throws {
        let clock = TestClock()
        let transport = FakeTransport(responder: .issuingTokens(expiresIn: 100))
        let broker = Fixtures.broker(transport: transport, clock: clock)
        let key = Fixtures.key()
        _ = try await broker.accessToken(for: key)
        clock.advance(by: .seconds(101))
        #expect(try await broker.accessToken(for: key).value == Secret("at-2"))
    }

    @Test func keysAreIsolated() async throws {
        let transport = FakeTransport()
        let broker = Fixtures.broker(transport: transport)
        let a = try await broker.accessToken(for: Fixtures.key(tenant: "a"))
        let b = try await broker.accessToken(for: Fixtures.key(tenant: "b"))
        #expect(a.value != b.value)
        #expect(transport.requestCount == 2)
    }

    @Test func keysOfAnotherProviderAreRejected() async throws {
        let broker = Fixtures.broker()
        let foreign = try StoreKey(provider: "other", tenant: "t", principal: "p")
        await #expect(throws: BrokerError.invalidInput) { try await broker.accessToken(for: foreign) }
    }

    @Test func noGrantMeansReauthorizationRequired() async throws {
        let broker = Fixtures.broker(provider: Fixtures.provider(grants: [.authorizationCode, .refreshToken]))
        await #expect(throws: BrokerError.reauthorizationRequired) {
            try await broker.accessToken(for: Fixtures.key())
        }
    }
}

@Suite struct RetryTests {
    @Test("429 with Retry-After is honoured, then the request succeeds")
    func retryAfterHonoured() async throws {
        let clock = TestClock()
        let transport = FakeTransport()
        transport.enqueue(.response(FakeTransport.oauthError("slow_down", status: 429, headers: ["Retry-After": "7"])))
        let broker = Fixtures.broker(transport: transport, clock: clock)
        let token = try await broker.accessToken(for: Fixtures.key())
        #expect(token.value == Secret("at-2"))
        #expect(clock.sleeps == [.seconds(7)])
        #expect(transport.requestCount == 2)
    }

    @Test("a Retry-After beyond the configured maximum fails at once with the hint")
    func retryAfterTooLong() async throws {
        let clock = TestClock()
        let transport = FakeTransport()
        transport.enqueue(
            .response(
                FakeTransport.rawResponse(
                    status: 503, contentType: "text/html", body: "<html>down</html>", headers: ["Retry-After": "3600"]))
        )
        let broker = Fixtures.broker(transport: transport, clock: clock)
        do {
            _ = try await broker.accessToken(for: Fixtures.key())
            Issue.record("should fail")
        } catch let error as BrokerError {
            #expect(error == .rateLimited)
            #expect(error.retryAfter == .seconds(3600))
            #expect(error.isTransient)
        }
        #expect(transport.requestCount == 1)
        #expect(clock.sleeps.isEmpty)
    }

    @Test("5xx and network failures back off exponentially within the attempt budget")
    func exponentialBackoff() async throws {
        let clock = TestClock()
        let transport = FakeTransport()
        transport.enqueue(
            .response(FakeTransport.rawResponse(status: 500, contentType: "text/html", body: "<h1>oops</h1>")),
            .failure(BrokerError(.connectionFailed, "refused")),
            .failure(BrokerError(.timedOut, "slow")))
        let broker = Fixtures.broker(transport: transport, clock: clock) { $0.retry.maxAttempts = 3 }
        await #expect(throws: BrokerError.timedOut) { try await broker.accessToken(for: Fixtures.key()) }
        #expect(transport.requestCount == 3)
        let sleeps = clock.sleeps
        #expect(sleeps.count == 2)
        #expect(sleeps[0] >= .milliseconds(125) && sleeps[0] <= .milliseconds(250))
        #expect(sleeps[1] >= .milliseconds(250) && sleeps[1] <= .milliseconds(500))
    }

    @Test("terminal errors are not retried", arguments: ["invalid_request", "invalid_client", "invalid_scope"])
    func terminalNotRetried(code: String) async throws {
        let transport = FakeTransport()
        transport.enqueue(.response(FakeTransport.oauthError(code, status: code == "invalid_client" ? 401 : 400)))
        let broker = Fixtures.broker(transport: transport)
        do {
            _ = try await broker.accessToken(for: Fixtures.key())
            Issue.record("should fail")
        } catch let error as BrokerError {
            #expect(error.code == (code == "invalid_client" ? .clientRejected : .providerRejected))
            #expect(error.oauthError?.rawValue == code)
        }
        #expect(transport.requestCount == 1)
    }

    @Test("an OAuth error sent with HTTP 200 is an error")
    func errorWithStatus200() async throws {
        let transport = FakeTransport()
        transport.enqueue(.response(FakeTransport.oauthError("invalid_scope", status: 200)))
        let broker = Fixtures.broker(transport: transport)
        await #expect(throws: BrokerError.providerRejected) { try await broker.accessToken(for: Fixtures.key()) }
    }

    @Test("the total deadline bounds retries")
    func deadlineBoundsRetries() async throws {
        let clock = TestClock()
        let transport = FakeTransport(
            responder: .init { _, _ in
                .response(
                    FakeTransport.oauthError("temporarily_unavailable", status: 503, headers: ["Retry-After": "20"]))
            })
        let broker = Fixtures.broker(transport: transport, clock: clock) { $0.retry.maxAttempts = 10 }
        await #expect(throws: BrokerError.rateLimited) { try await broker.accessToken(for: Fixtures.key()) }
        // 30 s total: the first 20 s wait fits, a second would not.
        #expect(transport.requestCount == 2)
    }
}
