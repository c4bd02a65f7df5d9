import Foundation
import OAuthBroker

// The session and lease checks of StoreConformance.
extension StoreConformance {
    func sessionsSingleUse(_ store: any BrokerStore) async throws {
        let key = try ConformanceFixtures.key()
        let session = ConformanceFixtures.session(for: key, expiresIn: 600)
        try expect(try await store.takeSession(id: session.id) == nil, "an unknown session id returned a session")
        try await store.saveSession(session)
        let taken = try await store.takeSession(id: session.id)
        try expect(taken == session, "the session taken differs from the one saved")
        try expect(try await store.takeSession(id: session.id) == nil, "a session was returned twice (not single-use)")

        // Saving under an existing id replaces the session.
        let replaced = AuthorizationSession(
            state: session.state, codeVerifier: Secret("another-verifier"), redirectURI: session.redirectURI,
            key: key, createdAt: session.createdAt, expiresAt: session.expiresAt)
        try await store.saveSession(session)
        try await store.saveSession(replaced)
        try expect(
            try await store.takeSession(id: session.id) == replaced, "saving under an existing id did not replace")
        try expect(try await store.takeSession(id: session.id) == nil, "a replaced session left a copy behind")
    }

    func concurrentSessionTake(_ store: any BrokerStore) async throws {
        let session = ConformanceFixtures.session(for: try ConformanceFixtures.key(), expiresIn: 600)
        try await store.saveSession(session)
        let taken = try await withThrowingTaskGroup(of: AuthorizationSession?.self) { group in
            for _ in 0..<16 { group.addTask { try await store.takeSession(id: session.id) } }
            return try await group.reduce(into: [AuthorizationSession]()) { if let s = $1 { $0.append(s) } }
        }
        try expect(taken == [session], "\(taken.count) of 16 concurrent takes got the session (expected 1)")
    }

    func expiredSessionsNotReturned(_ store: any BrokerStore) async throws {
        let expired = ConformanceFixtures.session(for: try ConformanceFixtures.key(), expiresIn: -60)
        try await store.saveSession(expired)
        try expect(try await store.takeSession(id: expired.id) == nil, "an expired session was returned")
        try expect(try await store.takeSession(id: expired.id) == nil, "an expired session was returned later")
    }

    func purgeExpiredSessions(_ store: any BrokerStore) async throws {
        let key = try ConformanceFixtures.key()
        let soon = (0..<3).map { _ in ConformanceFixtures.session(for: key, expiresIn: 60) }
        let later = ConformanceFixtures.session(for: key, expiresIn: 3600)
        for session in soon + [later] { try await store.saveSession(session) }
        // Purge as of two minutes from now: the three sessions expiring in one minute count as expired.
        let purged = try await store.purgeExpiredSessions(before: Date().addingTimeInterval(120))
        try expect(purged >= soon.count, "purge deleted \(purged) sessions, expected at least \(soon.count)")
        for session in soon {
            try expect(try await store.takeSession(id: session.id) == nil, "a purged session is still there")
        }
        try expect(try await store.takeSession(id: later.id) == later, "purge deleted a session that had not expired")
    }

    func leaseExclusive(_ store: any BrokerStore) async throws {
        let key = try ConformanceFixtures.key()
        let first = LeaseOwner.random()
        let second = LeaseOwner.random()
        try expect(
            try await store.acquireRefreshLease(for: key, owner: first, ttl: .seconds(60)), "a free lease was refused")
        try expect(
            !(try await store.acquireRefreshLease(for: key, owner: second, ttl: .seconds(60))),
            "a second owner took a held lease")
        let otherKey = try ConformanceFixtures.key(tenant: key.tenant, principal: "other")
        try expect(
            try await store.acquireRefreshLease(for: otherKey, owner: second, ttl: .seconds(60)),
            "a lease on one key blocked another key")
        try await store.releaseRefreshLease(for: key, owner: first)
        try await store.releaseRefreshLease(for: otherKey, owner: second)

        let raced = try ConformanceFixtures.key()
        let winners = try await withThrowingTaskGroup(of: Bool.self) { group in
            for _ in 0..<16 {
                group.addTask { try await store.acquireRefreshLease(for: raced, owner: .random(), ttl: .seconds(60)) }
            }
            return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        try expect(winners == 1, "\(winners) of 16 concurrent owners got one lease (expected 1)")
    }

    func leaseReacquireRenews(_ store: any BrokerStore) async throws {
        let key = try ConformanceFixtures.key()
        let owner = LeaseOwner.random()
        let ttl = options.shortLeaseTTL
        try expect(try await store.acquireRefreshLease(for: key, owner: owner, ttl: ttl), "a free lease was refused")
        try expect(
            try await store.acquireRefreshLease(for: key, owner: owner, ttl: .seconds(60)),
            "the holder could not re-acquire its own lease")
        // Wait past the first time-to-live: the renewal must still hold the lease.
        try await Task.sleep(for: ttl * 2)
        try expect(
            !(try await store.acquireRefreshLease(for: key, owner: .random(), ttl: .seconds(60))),
            "re-acquiring did not renew the time-to-live: another owner took the lease after the first ttl")
        try await store.releaseRefreshLease(for: key, owner: owner)
    }

    func leaseReleaseOnlyByOwner(_ store: any BrokerStore) async throws {
        let key = try ConformanceFixtures.key()
        let holder = LeaseOwner.random()
        let intruder = LeaseOwner.random()
        try expect(try await store.acquireRefreshLease(for: key, owner: holder, ttl: .seconds(60)), "lease refused")
        try await store.releaseRefreshLease(for: key, owner: intruder)
        try expect(
            !(try await store.acquireRefreshLease(for: key, owner: intruder, ttl: .seconds(60))),
            "a release by a non-owner freed the lease")
        try await store.releaseRefreshLease(for: key, owner: holder)
        try expect(
            try await store.acquireRefreshLease(for: key, owner: intruder, ttl: .seconds(60)),
            "the lease was not free after its owner released it")
        try await store.releaseRefreshLease(for: key, owner: holder)
        try expect(
            !(try await store.acquireRefreshLease(for: key, owner: holder, ttl: .seconds(60))),
            "a release by the previous owner freed the new owner's lease")
        try await store.releaseRefreshLease(for: key, owner: intruder)
        // Releasing a lease nobody holds is harmless.
        try await store.releaseRefreshLease(for: key, owner: intruder)
    }

    func leaseExpiryTakeover(_ store: any BrokerStore) async throws {
        let key = try ConformanceFixtures.key()
        let crashed = LeaseOwner.random()
        let successor = LeaseOwner.random()
        let clock = ContinuousClock()
        let acquiredAt = clock.now
        try expect(
            try await store.acquireRefreshLease(for: key, owner: crashed, ttl: options.shortLeaseTTL),
            "a free lease was refused")
        let refusedEarly = !(try await store.acquireRefreshLease(for: key, owner: successor, ttl: .seconds(60)))
        try expect(
            refusedEarly || clock.now - acquiredAt >= options.shortLeaseTTL,
            "another owner took an unexpired lease")
        // The holder "crashed" without releasing: poll, bounded, until the lease expires.
        let deadline = clock.now + options.leaseWaitLimit
        var tookOver = false
        while clock.now < deadline {
            if try await store.acquireRefreshLease(for: key, owner: successor, ttl: .seconds(60)) {
                tookOver = true
                break
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        try expect(tookOver, "an expired lease was not free after \(options.leaseWaitLimit)")
        try expect(
            clock.now - acquiredAt >= options.shortLeaseTTL, "the lease was taken over before its ttl passed")
        try expect(
            !(try await store.acquireRefreshLease(for: key, owner: crashed, ttl: .seconds(60))),
            "the expired holder got the lease back from its successor")
        try await store.releaseRefreshLease(for: key, owner: successor)
    }
}
