import Foundation
import OAuthBroker
import OAuthBrokerTesting
import Testing

@Suite struct RefreshFlowTests {
    static let refreshOnly = Fixtures.provider(grants: [.authorizationCode, .refreshToken])

    @Test("1000 concurrent callers on an expired key ride exactly one refresh")
    func herdOnExpiredKey() async throws {
        let clock = TestClock()
        let store = MemoryStore()
        let key = Fixtures.key()
        try await Fixtures.seed(store, key: key, clock: clock, expiresIn: .seconds(60), issuedAgo: .seconds(120))
        let transport = FakeTransport(latency: .milliseconds(50))
        let broker = Fixtures.broker(provider: Self.refreshOnly, store: store, transport: transport, clock: clock)
        let tokens = try await withThrowingTaskGroup(of: Secret.self) { group in
            for _ in 0..<1000 { group.addTask { try await broker.accessToken(for: key).value } }
            return try await group.reduce(into: [Secret]()) { $0.append($1) }
        }
        #expect(transport.requestCount(grant: .refreshToken) == 1)
        #expect(Set(tokens) == [Secret("at-1")])
        let stored = try #require(try await store.record(for: key))
        #expect(stored.refreshToken == Secret("rt-1"))
        #expect(transport.requests.first?.field("refresh_token") == "rt-seed")
    }

    @Test("a provider that does not rotate leaves the old refresh token in place")
    func keepsRefreshTokenWithoutRotation() async throws {
        let clock = TestClock()
        let store = MemoryStore()
        let key = Fixtures.key()
        let seeded = try await Fixtures.seed(store, key: key, clock: clock, issuedAgo: .seconds(7200))
        let events = EventLog()
        let transport = FakeTransport(responder: .issuingTokens(rotatesRefreshTokens: false))
        let broker = Fixtures.broker(provider: Self.refreshOnly, store: store, transport: transport, clock: clock) {
            $0.onEvent = events.record
        }
        let token = try await broker.accessToken(for: key)
        let stored = try #require(try await store.record(for: key))
        #expect(stored.refreshToken == Secret("rt-seed"))
        #expect(stored.accessToken == token.value)
        #expect(stored.version == seeded.version + 1)
        #expect(events.all.map(\.kind) == [.refreshed])
        #expect(events.all.first?.rotated == false)
    }

    @Test("invalid_grant marks the record needs-reauthorization and reports it")
    func invalidGrantMarksRecord() async throws {
        let clock = TestClock()
        let store = MemoryStore()
        let key = Fixtures.key()
        try await Fixtures.seed(store, key: key, clock: clock, issuedAgo: .seconds(7200))
        let transport = FakeTransport()
        transport.enqueue(.response(FakeTransport.oauthError("invalid_grant", description: "refresh token revoked")))
        let events = EventLog()
        let broker = Fixtures.broker(provider: Self.refreshOnly, store: store, transport: transport, clock: clock) {
            $0.onEvent = events.record
        }
        await #expect(throws: BrokerError.invalidGrant) { try await broker.accessToken(for: key) }
        #expect(try await store.record(for: key)?.status == .needsReauthorization)
        #expect(events.count(.needsReauthorization) == 1)
        // Marked records are never sent to the provider again.
        await #expect(throws: BrokerError.reauthorizationRequired) { try await broker.accessToken(for: key) }
        #expect(transport.requestCount == 1)
    }

    @Test("invalid_grant after another writer rotated the record adopts the winner instead")
    func invalidGrantVersusRotation() async throws {
        let clock = TestClock()
        let store = MemoryStore()
        let key = Fixtures.key()
        let seeded = try await Fixtures.seed(store, key: key, clock: clock, issuedAgo: .seconds(7200))
        // While our refresh is in flight, "another process" rotates the record; the provider then rejects ours.
        let transport = FakeTransport(
            responder: .init { _, _ in
                try await Fixtures.rotateAsAnotherWriter(
                    store, key: key, over: seeded, clock: clock, accessToken: "at-other-process",
                    refreshToken: "rt-other-process")
                return .response(FakeTransport.oauthError("invalid_grant"))
            })
        let broker = Fixtures.broker(provider: Self.refreshOnly, store: store, transport: transport, clock: clock)
        let token = try await broker.accessToken(for: key)
        #expect(token.value == Secret("at-other-process"))
        let stored = try #require(try await store.record(for: key))
        #expect(stored.status == .active)
        #expect(stored.refreshToken == Secret("rt-other-process"))
    }

    @Test("a CAS conflict adopts the winner's usable record")
    func conflictAdoptsWinner() async throws {
        let clock = TestClock()
        let store = MemoryStore()
        let key = Fixtures.key()
        let seeded = try await Fixtures.seed(store, key: key, clock: clock, issuedAgo: .seconds(7200))
        let transport = FakeTransport(
            responder: .init { _, _ in
                try await Fixtures.rotateAsAnotherWriter(
                    store, key: key, over: seeded, clock: clock, accessToken: "at-winner", refreshToken: "rt-winner")
                return .response(FakeTransport.tokenResponse(accessToken: "at-loser", refreshToken: "rt-loser"))
            })
        let events = EventLog()
        let broker = Fixtures.broker(provider: Self.refreshOnly, store: store, transport: transport, clock: clock) {
            $0.onEvent = events.record
        }
        let token = try await broker.accessToken(for: key)
        #expect(token.value == Secret("at-winner"))
        #expect(try await store.record(for: key)?.refreshToken == Secret("rt-winner"))
        #expect(events.all.map(\.kind) == [.adopted])
    }

    @Test("a conflict with a revoked record never overwrites it")
    func conflictWithRevokedRecord() async throws {
        let clock = TestClock()
        let store = MemoryStore()
        let key = Fixtures.key()
        try await Fixtures.seed(store, key: key, clock: clock, issuedAgo: .seconds(7200))
        let transport = FakeTransport(
            responder: .init { _, _ in
                _ = try await store.setStatus(.revoked, for: key)
                return .response(FakeTransport.tokenResponse(accessToken: "at-new", refreshToken: "rt-new"))
            })
        let broker = Fixtures.broker(provider: Self.refreshOnly, store: store, transport: transport, clock: clock)
        await #expect(throws: BrokerError.tokenRevoked) { try await broker.accessToken(for: key) }
        let stored = try #require(try await store.record(for: key))
        #expect(stored.status == .revoked)
        #expect(stored.accessToken == Secret("at-seed"))
    }

    @Test("a record deleted during the refresh is not resurrected")
    func missingIsNotResurrected() async throws {
        let clock = TestClock()
        let store = MemoryStore()
        let key = Fixtures.key()
        try await Fixtures.seed(store, key: key, clock: clock, issuedAgo: .seconds(7200))
        let transport = FakeTransport(
            responder: .init { _, _ in
                try await store.deleteRecord(for: key)
                return .response(FakeTransport.tokenResponse(accessToken: "at-new", refreshToken: "rt-new"))
            })
        let broker = Fixtures.broker(provider: Self.refreshOnly, store: store, transport: transport, clock: clock)
        await #expect(throws: BrokerError.recordDeleted) { try await broker.accessToken(for: key) }
        #expect(try await store.record(for: key) == nil)
    }

    @Test("cancelling every caller does not lose the rotated refresh token")
    func cancelledLeaderStillStores() async throws {
        let clock = TestClock()
        let store = MemoryStore()
        let key = Fixtures.key()
        try await Fixtures.seed(store, key: key, clock: clock, issuedAgo: .seconds(7200))
        let requestArrived = Signal()
        let release = Signal()
        let transport = FakeTransport(
            responder: .init { _, _ in
                requestArrived.fire()
                await release.wait()
                return .response(FakeTransport.tokenResponse(accessToken: "at-rotated", refreshToken: "rt-rotated"))
            })
        let broker = Fixtures.broker(provider: Self.refreshOnly, store: store, transport: transport, clock: clock)
        let caller = Task { try await broker.accessToken(for: key) }
        await requestArrived.wait()
        caller.cancel()
        await #expect(throws: CancellationError.self) { try await caller.value }
        // The provider has now rotated the token; the response arrives after the caller left.
        release.fire()
        #expect(try await eventually { try await store.record(for: key)?.refreshToken == Secret("rt-rotated") })
        #expect(await eventually { broker.inFlightCount == 0 })
        #expect(try await broker.accessToken(for: key).value == Secret("at-rotated"))
        #expect(transport.requestCount == 1)
    }

    @Test("single-flight entries are released when idle")
    func entriesReleased() async throws {
        let transport = FakeTransport()
        let broker = Fixtures.broker(transport: transport)
        for index in 0..<200 { _ = try await broker.accessToken(for: Fixtures.key(tenant: "t\(index)")) }
        #expect(broker.inFlightCount == 0)
        #expect(transport.requestCount == 200)
    }

    @Test("a waiter that reaches its deadline stops waiting; the leader finishes for everyone else")
    func waiterDeadline() async throws {
        let release = Signal()
        let transport = FakeTransport(
            responder: .init { _, number in
                await release.wait()
                return .response(FakeTransport.tokenResponse(accessToken: "at-\(number)"))
            })
        let broker = Fixtures.broker(transport: transport) {
            $0.requestTimeout = .milliseconds(100)
            $0.totalTimeout = .milliseconds(200)
        }
        let key = Fixtures.key()
        await #expect(throws: BrokerError.deadlineExceeded) { try await broker.accessToken(for: key) }
        release.fire()
        #expect(await eventually { broker.inFlightCount == 0 })
        #expect(try await broker.accessToken(for: key).value == Secret("at-1"))
        #expect(transport.requestCount == 1)
    }

    @Test(
        "a malformed refresh response changes nothing stored",
        arguments: [
            FakeTransport.rawResponse(status: 200, contentType: "text/html", body: "<html>login</html>"),
            FakeTransport.rawResponse(status: 200, contentType: "application/json", body: "{\"access_token\":"),
            FakeTransport.jsonResponse(status: 200, object: ["token_type": "Bearer"]),
            FakeTransport.jsonResponse(status: 200, object: ["access_token": 42, "token_type": "Bearer"]),
            FakeTransport.jsonResponse(status: 200, object: ["access_token": "x"]),
        ])
    func malformedChangesNothing(response: TransportResponse) async throws {
        let clock = TestClock()
        let store = MemoryStore()
        let key = Fixtures.key()
        let seeded = try await Fixtures.seed(store, key: key, clock: clock, issuedAgo: .seconds(7200))
        let transport = FakeTransport()
        transport.enqueue(.response(response))
        let broker = Fixtures.broker(provider: Self.refreshOnly, store: store, transport: transport, clock: clock)
        await #expect(throws: BrokerError.malformedResponse) { try await broker.accessToken(for: key) }
        #expect(try await store.record(for: key) == seeded)
        #expect(transport.requestCount == 1)
    }

    @Test("refresh(force:) refreshes a fresh token; refresh() leaves it")
    func forcedRefresh() async throws {
        let clock = TestClock()
        let store = MemoryStore()
        let key = Fixtures.key()
        try await Fixtures.seed(store, key: key, clock: clock)
        let transport = FakeTransport()
        let broker = Fixtures.broker(provider: Self.refreshOnly, store: store, transport: transport, clock: clock)
        #expect(try await broker.refresh(key).value == Secret("at-seed"))
        #expect(transport.requestCount == 0)
        #expect(try await broker.refresh(key, force: true).value == Secret("at-1"))
        #expect(transport.requestCount(grant: .refreshToken) == 1)
    }
}

@Suite struct InvalidationTests {
    @Test("concurrent invalidations of one stale token collapse into one refresh")
    func collapse() async throws {
        let clock = TestClock()
        let store = MemoryStore()
        let key = Fixtures.key()
        try await Fixtures.seed(store, key: key, clock: clock)
        let transport = FakeTransport(latency: .milliseconds(30))
        let broker = Fixtures.broker(
            provider: RefreshFlowTests.refreshOnly, store: store, transport: transport, clock: clock)
        let stale = try await broker.accessToken(for: key).value
        #expect(stale == Secret("at-seed"))
        let results = try await withThrowingTaskGroup(of: Secret.self) { group in
            for _ in 0..<100 { group.addTask { try await broker.invalidate(stale, for: key).value } }
            return try await group.reduce(into: [Secret]()) { $0.append($1) }
        }
        #expect(Set(results) == [Secret("at-1")])
        #expect(transport.requestCount == 1)
        // A late invalidation of the old token gets the new one without a request.
        #expect(try await broker.invalidate(stale, for: key).value == Secret("at-1"))
        #expect(transport.requestCount == 1)
    }
}
