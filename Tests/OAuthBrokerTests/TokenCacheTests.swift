import Foundation
import OAuthBroker
import OAuthBrokerTesting
import Testing

/// The cache-hit path: per-key handles, per-CPU replicas, the coarse system clock and injected clocks.
@Suite struct TokenHandleTests {
    @Test("a handle serves the broker's cached token without a request")
    func handleServesCachedToken() async throws {
        let transport = FakeTransport()
        let broker = Fixtures.broker(transport: transport)
        let key = Fixtures.key()
        let handle = try broker.handle(for: key)
        #expect(handle.key == key)
        #expect(handle.cachedAccessToken() == nil)
        let first = try await handle.accessToken()
        #expect(first.value == Secret("at-1"))
        for _ in 0..<100 { #expect(try await handle.accessToken() == first) }
        #expect(try await broker.accessToken(for: key) == first)
        #expect(handle.cachedAccessToken() == first)
        #expect(transport.requestCount == 1)
    }

    @Test("a handle made after the token was cached serves it at once")
    func handleMadeLater() async throws {
        let transport = FakeTransport()
        let broker = Fixtures.broker(transport: transport)
        let key = Fixtures.key()
        let token = try await broker.accessToken(for: key)
        #expect(try broker.handle(for: key).cachedAccessToken() == token)
        #expect(transport.requestCount == 1)
    }

    @Test("a forced refresh reaches every handle of the key")
    func forcedRefreshReachesHandles() async throws {
        let transport = FakeTransport()
        let broker = Fixtures.broker(transport: transport)
        let key = Fixtures.key()
        let handles = try (0..<3).map { _ in try broker.handle(for: key) }
        #expect(try await handles[0].accessToken().value == Secret("at-1"))
        for handle in handles { #expect(try await handle.accessToken().value == Secret("at-1")) }
        #expect(try await broker.refresh(key, force: true).value == Secret("at-2"))
        for handle in handles {
            #expect(handle.cachedAccessToken()?.value == Secret("at-2"))
            #expect(try await handle.accessToken().value == Secret("at-2"))
        }
        #expect(try await broker.accessToken(for: key).value == Secret("at-2"))
        #expect(transport.requestCount == 2)
    }

    @Test("invalidating a rejected token reaches the handle")
    func invalidateReachesHandle() async throws {
        let transport = FakeTransport()
        let broker = Fixtures.broker(transport: transport)
        let key = Fixtures.key()
        let handle = try broker.handle(for: key)
        let rejected = try await handle.accessToken().value
        #expect(try await broker.invalidate(rejected, for: key).value == Secret("at-2"))
        #expect(try await handle.accessToken().value == Secret("at-2"))
        #expect(transport.requestCount == 2)
    }

    @Test("after a revocation a handle serves nothing and reports the revocation")
    func revocationReachesHandle() async throws {
        let clock = TestClock()
        let store = MemoryStore()
        let key = Fixtures.key()
        try await Fixtures.seed(store, key: key, clock: clock)
        let transport = FakeTransport()
        let broker = Fixtures.broker(
            provider: Fixtures.provider(grants: [.refreshToken, .authorizationCode], revocation: false), store: store,
            transport: transport, clock: clock)
        let handle = try broker.handle(for: key)
        #expect(try await handle.accessToken().value == Secret("at-seed"))
        #expect(try await broker.revoke(key))
        #expect(handle.cachedAccessToken() == nil)
        await #expect(throws: BrokerError.tokenRevoked) { try await handle.accessToken() }
        await #expect(throws: BrokerError.tokenRevoked) { try await broker.accessToken(for: key) }
        #expect(transport.requestCount == 0)
    }

    @Test("evicting the cached token empties the handle; the next call reads the store")
    func evictionReachesHandle() async throws {
        let transport = FakeTransport()
        let store = MemoryStore()
        let broker = Fixtures.broker(store: store, transport: transport)
        let key = Fixtures.key()
        let handle = try broker.handle(for: key)
        let token = try await handle.accessToken()
        broker.evictCachedToken(for: key)
        #expect(handle.cachedAccessToken() == nil)
        #expect(try await handle.accessToken() == token)
        #expect(handle.cachedAccessToken() == token)
        #expect(transport.requestCount == 1)
    }

    @Test("a handle refreshes a stale token by the injected clock")
    func handleFollowsInjectedClock() async throws {
        let clock = TestClock()
        let transport = FakeTransport(responder: .issuingTokens(expiresIn: 3600))
        let broker = Fixtures.broker(transport: transport, clock: clock) { $0.staleTokenBehavior = .waitForRefresh }
        let handle = try broker.handle(for: Fixtures.key())
        #expect(try await handle.accessToken().value == Secret("at-1"))
        clock.advance(by: .seconds(3000))
        #expect(handle.cachedAccessToken()?.value == Secret("at-1"))
        clock.advance(by: .seconds(600))
        #expect(handle.cachedAccessToken() == nil)
        #expect(try await handle.accessToken().value == Secret("at-2"))
        #expect(transport.requestCount == 2)
    }

    @Test func handlesForAnotherProviderAreRejected() throws {
        let broker = Fixtures.broker()
        let foreign = try StoreKey(provider: "other", tenant: "t", principal: "p")
        #expect(throws: BrokerError.invalidInput) { try broker.handle(for: foreign) }
    }

    @Test("concurrent readers never see a token older than the last completed refresh")
    func readersFollowRefreshes() async throws {
        let transport = FakeTransport()
        let broker = Fixtures.broker(transport: transport)
        let key = Fixtures.key()
        let handle = try broker.handle(for: key)
        _ = try await broker.accessToken(for: key)
        for round in 2...30 {
            let expected = try await broker.refresh(key, force: true).value
            #expect(expected == Secret("at-\(round)"))
            // Readers on every cooperative thread (so on every per-CPU replica this machine uses).
            let seen = try await withThrowingTaskGroup(of: [Secret].self) { group in
                for _ in 0..<8 {
                    group.addTask {
                        var seen: [Secret] = []
                        for _ in 0..<50 {
                            seen.append(try await handle.accessToken().value)
                            seen.append(try await broker.accessToken(for: key).value)
                            await Task.yield()
                        }
                        return seen
                    }
                }
                return try await group.reduce(into: [Secret]()) { $0 += $1 }
            }
            #expect(Set(seen) == [expected])
        }
        #expect(transport.requestCount == 30)
    }
}

@Suite struct CacheClockTests {
    @Test("replacing now on a copy of the system clock makes the cache use the replacement")
    func replacedSystemNowIsHonoured() async throws {
        let testClock = TestClock()
        var clock = BrokerClock.system
        clock.now = { testClock.now }
        let transport = FakeTransport(responder: .issuingTokens(expiresIn: 3600))
        let broker = try Broker(
            provider: Fixtures.provider(), store: MemoryStore(), transport: transport,
            errorMapper: PassthroughErrorMapper(),
            configuration: {
                var configuration = BrokerConfiguration()
                configuration.clock = clock
                configuration.staleTokenBehavior = .waitForRefresh
                return configuration
            }())
        let key = Fixtures.key()
        #expect(try await broker.accessToken(for: key).value == Secret("at-1"))
        #expect(broker.cachedAccessToken(for: key)?.value == Secret("at-1"))
        testClock.advance(by: .seconds(3600))
        #expect(broker.cachedAccessToken(for: key) == nil)
        #expect(try await broker.accessToken(for: key).value == Secret("at-2"))
    }

    @Test("with the system clock (coarse reading) a fresh token is served from the cache")
    func systemClock() async throws {
        let transport = FakeTransport(responder: .issuingTokens(expiresIn: 3600))
        let broker = try Broker(
            provider: Fixtures.provider(), store: MemoryStore(), transport: transport,
            errorMapper: PassthroughErrorMapper())
        let key = Fixtures.key()
        let token = try await broker.accessToken(for: key)
        #expect(broker.cachedAccessToken(for: key) == token)
        #expect(try await broker.accessToken(for: key) == token)
        #expect(transport.requestCount == 1)
    }
}
