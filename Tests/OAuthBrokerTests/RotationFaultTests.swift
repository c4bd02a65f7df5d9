import Foundation
import OAuthBroker
import OAuthBrokerTesting
import Testing

/// The rotation rules under faults: each test injects one fault for real (a store that fails writes, a lease that
/// cannot be renewed, a provider that answers late or from a gateway) and checks that no rotated refresh token is
/// lost and no refresh token is sent twice.
@Suite("Rotation safety under faults")
struct RotationFaultTests {
    static let refreshOnly = Fixtures.provider(grants: [.authorizationCode, .refreshToken])

    /// An expired record with refresh token `rt-seed`, a fault-injecting store around a memory store, and a broker.
    private struct Setup {
        let clock = TestClock()
        let key = Fixtures.key()
        let store: FaultInjectingStore
        let transport: FakeTransport
        let broker: Broker<FakeTransport, PassthroughErrorMapper>
        let seeded: TokenRecord

        init(
            transport: FakeTransport = FakeTransport(), leases: Bool = false,
            _ adjust: (inout BrokerConfiguration) -> Void = { _ in }
        ) async throws {
            store = FaultInjectingStore(wrapping: MemoryStore(), providesRefreshLeases: leases)
            self.transport = transport
            seeded = try await Fixtures.seed(store.wrapped, key: key, clock: clock, issuedAgo: .seconds(7200))
            broker = Fixtures.broker(
                provider: RotationFaultTests.refreshOnly, store: store, transport: transport, clock: clock, adjust)
        }

        func stored() async throws -> TokenRecord { try #require(try await store.wrapped.record(for: key)) }
    }

    // MARK: - Path 1: the store write fails after the provider rotated

    @Test("a rotated refresh token survives clean store write failures")
    func cleanWriteFailures() async throws {
        let setup = try await Setup()
        setup.store.failNext(3, of: .compareAndSwap)
        let token = try await setup.broker.accessToken(for: setup.key)
        #expect(token.value == Secret("at-1"))
        let stored = try await setup.stored()
        #expect(stored.refreshToken == Secret("rt-1"))
        #expect(stored.version == setup.seeded.version + 1)
        #expect(setup.transport.requestCount(grant: .refreshToken) == 1)
        #expect(setup.store.callCount(of: .compareAndSwap) == 4)
        #expect(setup.broker.unsavedTokenCount == 0)
    }

    @Test("an ambiguous write failure (applied, then reported failed) is detected by reading back, not repeated")
    func ambiguousWriteFailure() async throws {
        let setup = try await Setup()
        setup.store.failNext(of: .compareAndSwap, timing: .afterApplying)
        let token = try await setup.broker.accessToken(for: setup.key)
        #expect(token.value == Secret("at-1"))
        let stored = try await setup.stored()
        #expect(stored.refreshToken == Secret("rt-1"))
        #expect(stored.version == setup.seeded.version + 1)
        #expect(setup.store.callCount(of: .compareAndSwap) == 1)
        #expect(setup.transport.requestCount(grant: .refreshToken) == 1)
    }

    @Test("when the store-write budget runs out the new token is kept, served, and stored before any refresh")
    func budgetExhaustedKeepsToken() async throws {
        let setup = try await Setup { $0.storeWriteTimeout = .seconds(2) }
        setup.store.failNext(10_000, of: .writes)
        await #expect(throws: BrokerError.storeUnavailable) { try await setup.broker.accessToken(for: setup.key) }
        #expect(setup.broker.unsavedTokenCount == 1)
        // This process keeps serving the token the provider issued.
        #expect(setup.broker.cachedAccessToken(for: setup.key)?.value == Secret("at-1"))
        #expect(try await setup.stored().refreshToken == Secret("rt-seed"))

        // The store recovers; once the token is stale, the key's next acquisition stores the kept token first and
        // refreshes with the rotated refresh token, never with the dead one.
        setup.store.removeAllFaults()
        setup.clock.advance(by: .seconds(3590))
        let next = try await setup.broker.refresh(setup.key, force: true)
        #expect(next.value == Secret("at-2"))
        let sent = setup.transport.requests.compactMap { $0.field("refresh_token") }
        #expect(sent == ["rt-seed", "rt-1"])
        #expect(try await setup.stored().refreshToken == Secret("rt-2"))
        #expect(setup.broker.unsavedTokenCount == 0)
    }

    @Test("a redeemed authorization code's tokens survive store write failures")
    func authorizationCodeWriteFailures() async throws {
        let clock = TestClock()
        let store = FaultInjectingStore(wrapping: MemoryStore())
        let transport = FakeTransport()
        let broker = Fixtures.broker(provider: Self.refreshOnly, store: store, transport: transport, clock: clock)
        let key = Fixtures.key(principal: "new-user")
        let request = try await broker.startAuthorization(for: key, redirectURI: "https://app.example.com/cb")
        let state = try #require(
            URLComponents(url: request.url, resolvingAgainstBaseURL: false)?.queryItems?.first { $0.name == "state" }?
                .value)
        store.failNext(2, of: .writes)
        let token = try await broker.completeAuthorization(code: "code-1", state: state)
        #expect(token.value == Secret("at-1"))
        #expect(try await store.wrapped.record(for: key)?.refreshToken == Secret("rt-1"))
        #expect(transport.requestCount(grant: .authorizationCode) == 1)
    }

    // MARK: - Path 2: a lease that cannot be kept

    @Test("a holder whose lease renewal is refused does not send the refresh token")
    func lostLeaseSendsNothing() async throws {
        let setup = try await Setup(leases: true)
        // The first acquisition succeeds; the renewal just before sending is refused (another owner took it).
        setup.store.refuseNextLeaseAcquisitions(1, skipping: 1)
        await #expect(throws: BrokerError.leaseUnavailable) { try await setup.broker.accessToken(for: setup.key) }
        #expect(setup.transport.requestCount(grant: .refreshToken) == 0)
        #expect(try await setup.stored().refreshToken == Secret("rt-seed"))
    }

    @Test("two brokers on one file store: a provider slower than the lease TTL still means one refresh")
    func slowProviderLongerThanLease() async throws {
        try await withTemporaryDirectory(prefix: "lease-keepalive") { directory in
            let path = "\(directory)/tokens.json"
            let clock = TestClock(start: Date())
            let key = Fixtures.key()
            let seeded = try await Fixtures.seed(
                try FileStore(path: path), key: key, clock: clock, issuedAgo: .seconds(7200))
            // One transport for both brokers, so it sees every request; the first refresh answers after 8 s, more
            // than twice the lease's time-to-live.
            let transport = FakeTransport()
            transport.enqueue(
                .delayed(
                    .seconds(8),
                    .response(FakeTransport.tokenResponse(accessToken: "at-A", refreshToken: "rt-A"))))
            func makeBroker() throws -> Broker<FakeTransport, PassthroughErrorMapper> {
                var configuration = BrokerConfiguration()
                // Long enough that a loaded machine's slow store calls do not read as a lost lease.
                configuration.leaseTimeToLive = .seconds(3)
                configuration.staleTokenBehavior = .waitForRefresh
                return try Broker(
                    provider: Self.refreshOnly, store: try FileStore(path: path), transport: transport,
                    errorMapper: PassthroughErrorMapper(), configuration: configuration)
            }
            let first = try makeBroker()
            let second = try makeBroker()
            async let a = first.accessToken(for: key)
            #expect(await eventually { transport.requestCount == 1 })
            // Well past the lease's time-to-live: without renewal, the second broker would take over here.
            try await Task.sleep(for: .seconds(4))
            let b = try await second.accessToken(for: key)
            #expect(try await a.value == Secret("at-A"))
            #expect(b.value == Secret("at-A"))
            let sent = transport.requests.compactMap { $0.field("refresh_token") }
            #expect(sent == [seeded.refreshToken?.revealedValue])
        }
    }

    // MARK: - Path 3: one-time grants and the time left

    @Test("a refresh is not sent again when less than the minimum time would be left after Retry-After")
    func oneTimeGrantNeedsTimeLeft() async throws {
        let setup = try await Setup {
            $0.requestTimeout = .seconds(1)
            $0.totalTimeout = .milliseconds(2500)
        }
        setup.transport.enqueue(
            .response(
                FakeTransport.rawResponse(
                    status: 429, contentType: "text/html", body: "<h1>slow down</h1>", headers: ["Retry-After": "2"])))
        await #expect(throws: BrokerError.rateLimited) { try await setup.broker.accessToken(for: setup.key) }
        #expect(setup.transport.requestCount(grant: .refreshToken) == 1)
        #expect(try await setup.stored().refreshToken == Secret("rt-seed"))
    }

    @Test("a one-time grant is never sent with less than minimumTimeForOneTimeGrants left")
    func minimumTimeIsHonoured() async throws {
        let setup = try await Setup {
            $0.requestTimeout = .seconds(1)
            $0.totalTimeout = .seconds(3)
            $0.minimumTimeForOneTimeGrants = .seconds(3)
        }
        setup.transport.enqueue(.failure(BrokerError(.connectionFailed, "refused")))
        await #expect(throws: BrokerError.connectionFailed) { try await setup.broker.accessToken(for: setup.key) }
        #expect(setup.transport.requestCount(grant: .refreshToken) == 1)
    }

    // MARK: - Path 4: 5xx and gateways

    @Test(
        "500, 502 and 504 are not retried for a refresh: a gateway's error does not prove the provider did nothing",
        arguments: [500, 502, 504])
    func gatewayErrorsAreNotRetriedForRefresh(status: Int) async throws {
        let setup = try await Setup()
        setup.transport.enqueue(
            .response(FakeTransport.rawResponse(status: status, contentType: "text/html", body: "<h1>gateway</h1>")))
        await #expect(throws: BrokerError.providerUnavailable) { try await setup.broker.accessToken(for: setup.key) }
        #expect(setup.transport.requestCount(grant: .refreshToken) == 1)
    }

    @Test(
        "temporarily_unavailable and 503 with Retry-After are retried for a refresh; 502 still is for client credentials"
    )
    func provablyUnprocessedFailuresAreRetried() async throws {
        let setup = try await Setup()
        setup.transport.enqueue(
            .response(FakeTransport.oauthError("temporarily_unavailable", status: 400)),
            .response(
                FakeTransport.rawResponse(
                    status: 503, contentType: "text/html", body: "busy", headers: ["Retry-After": "1"])))
        #expect(try await setup.broker.accessToken(for: setup.key).value == Secret("at-3"))
        #expect(setup.transport.requestCount(grant: .refreshToken) == 3)

        let clock = TestClock()
        let transport = FakeTransport()
        transport.enqueue(.response(FakeTransport.rawResponse(status: 502, contentType: "text/html", body: "x")))
        let broker = Fixtures.broker(
            provider: Fixtures.provider(grants: [.clientCredentials]), transport: transport, clock: clock)
        #expect(try await broker.accessToken(for: Fixtures.key()).value == Secret("at-2"))
        #expect(transport.requestCount(grant: .clientCredentials) == 2)
    }

    // MARK: - Path 6: revoke during a refresh

    @Test("revoke waits for a refresh in flight and revokes the rotated refresh token")
    func revokeWaitsForRefresh() async throws {
        let transport = FakeTransport()
        transport.enqueue(
            .delayed(
                .milliseconds(300),
                .response(FakeTransport.tokenResponse(accessToken: "at-new", refreshToken: "rt-new"))))
        let setup = try await Setup(transport: transport)
        async let refreshed = setup.broker.accessToken(for: setup.key)
        #expect(await eventually { transport.requestCount == 1 })
        #expect(try await setup.broker.revoke(setup.key))
        #expect(try await refreshed.value == Secret("at-new"))
        let revocation = try #require(transport.requests.last)
        #expect(revocation.request.url.path == "/oauth/revoke")
        #expect(revocation.field("token") == "rt-new")
        #expect(try await setup.stored().status == .revoked)
        await #expect(throws: BrokerError.tokenRevoked) { try await setup.broker.accessToken(for: setup.key) }
    }

    @Test("another broker's revoke waits for the lease held by a refresh and revokes the rotated token")
    func revokeFromAnotherBrokerWaitsForLease() async throws {
        try await withTemporaryDirectory(prefix: "revoke-lease") { directory in
            let path = "\(directory)/tokens.json"
            let clock = TestClock(start: Date())
            let key = Fixtures.key()
            try await Fixtures.seed(try FileStore(path: path), key: key, clock: clock, issuedAgo: .seconds(7200))
            let transport = FakeTransport()
            transport.enqueue(
                .delayed(
                    .milliseconds(600),
                    .response(FakeTransport.tokenResponse(accessToken: "at-new", refreshToken: "rt-new"))))
            func makeBroker() throws -> Broker<FakeTransport, PassthroughErrorMapper> {
                var configuration = BrokerConfiguration()
                configuration.staleTokenBehavior = .waitForRefresh
                return try Broker(
                    provider: Self.refreshOnly, store: try FileStore(path: path), transport: transport,
                    errorMapper: PassthroughErrorMapper(), configuration: configuration)
            }
            let refresher = try makeBroker()
            let revoker = try makeBroker()
            async let refreshed = refresher.accessToken(for: key)
            #expect(await eventually { transport.requestCount == 1 })
            #expect(try await revoker.revoke(key))
            _ = try? await refreshed
            let tokens = transport.requests.filter { $0.request.url.path == "/oauth/revoke" }.map { $0.field("token") }
            #expect(!tokens.isEmpty)
            #expect(tokens.allSatisfy { $0 == "rt-new" })
            #expect(try await FileStore(path: path).record(for: key)?.status == .revoked)
        }
    }

    // MARK: - Path 7: invalid_grant after another writer rotated

    @Test("invalid_grant after another writer rotated into an expired record refreshes with the stored token")
    func invalidGrantAfterRotationRetriesWithStoredToken() async throws {
        let clock = TestClock()
        let store = MemoryStore()
        let key = Fixtures.key()
        let seeded = try await Fixtures.seed(store, key: key, clock: clock, issuedAgo: .seconds(7200))
        let transport = FakeTransport(
            responder: FakeTransport.Responder { request, number in
                if request.field("refresh_token") == "rt-seed" {
                    // Another process rotated the grant meanwhile; its access token has already expired too.
                    var winner = seeded
                    winner.accessToken = Secret("at-other")
                    winner.refreshToken = Secret("rt-other")
                    winner.issuedAt = clock.now.addingTimeInterval(-7200)
                    winner.expiresAt = clock.now.addingTimeInterval(-1)
                    _ = try await store.compareAndSwap(key, expecting: seeded.version, with: winner)
                    return .response(FakeTransport.oauthError("invalid_grant"))
                }
                return .response(FakeTransport.tokenResponse(accessToken: "at-\(number)", refreshToken: "rt-\(number)"))
            })
        let broker = Fixtures.broker(provider: Self.refreshOnly, store: store, transport: transport, clock: clock)
        #expect(try await broker.accessToken(for: key).value == Secret("at-2"))
        #expect(transport.requests.compactMap { $0.field("refresh_token") } == ["rt-seed", "rt-other"])
        let stored = try #require(try await store.record(for: key))
        #expect(stored.status == .active)
        #expect(stored.refreshToken == Secret("rt-2"))
    }

    // MARK: - Path 8: a status written by another process

    @Test("a revoke by another broker stops this broker from serving its cached token within the revalidation interval")
    func revokeSeenByOtherBrokers() async throws {
        let store = MemoryStore()
        let provider = Fixtures.provider(grants: [.clientCredentials])
        func makeBroker() throws -> Broker<FakeTransport, PassthroughErrorMapper> {
            var configuration = BrokerConfiguration()
            configuration.revalidationInterval = .milliseconds(200)
            return try Broker(
                provider: provider, store: store, transport: FakeTransport(), errorMapper: PassthroughErrorMapper(),
                configuration: configuration)
        }
        let serving = try makeBroker()
        let revoking = try makeBroker()
        let key = Fixtures.key()
        #expect(try await serving.accessToken(for: key).value == Secret("at-1"))
        #expect(try await revoking.revoke(key))
        var refused = false
        for _ in 0..<200 where !refused {
            do {
                _ = try await serving.accessToken(for: key)
                try await Task.sleep(for: .milliseconds(25))
            } catch let error as BrokerError {
                #expect(error.code == .tokenRevoked)
                refused = true
            }
        }
        #expect(refused, "the cached token was still served 5 s after another broker revoked it")
        #expect(serving.cachedAccessToken(for: key) == nil)
    }

    // MARK: - Configuration

    @Test("validate() rejects a refresh policy changed to nonsense, a too-short lease and an impossible minimum")
    func validationCoversNewSettings() throws {
        var nan = BrokerConfiguration()
        nan.refreshPolicy.refreshRatio = .nan
        #expect(throws: BrokerError.invalidConfiguration) { try nan.validate() }
        var zero = BrokerConfiguration()
        zero.refreshPolicy.refreshRatio = 0
        #expect(throws: BrokerError.invalidConfiguration) { try zero.validate() }
        var lease = BrokerConfiguration()
        lease.leaseTimeToLive = .milliseconds(50)
        #expect(throws: BrokerError.invalidConfiguration) { try lease.validate() }
        var minimum = BrokerConfiguration()
        minimum.minimumTimeForOneTimeGrants = .seconds(31)
        #expect(throws: BrokerError.invalidConfiguration) { try minimum.validate() }
        var write = BrokerConfiguration()
        write.storeWriteTimeout = .zero
        #expect(throws: BrokerError.invalidConfiguration) { try write.validate() }
        var short = BrokerConfiguration()
        short.leaseTimeToLive = .seconds(1)
        short.requestTimeout = .seconds(20)
        short.totalTimeout = .seconds(30)
        try short.validate()
    }
}
