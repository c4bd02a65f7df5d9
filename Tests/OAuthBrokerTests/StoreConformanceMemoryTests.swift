import Foundation
import OAuthBroker
import OAuthBrokerTesting
import Testing

@Suite("MemoryStore conformance")
struct StoreConformanceMemoryTests {
    @Test("conformance", arguments: StoreConformance.Check.all)
    func conformance(_ check: StoreConformance.Check) async throws {
        try await StoreConformance { MemoryStore() }.run(check)
    }

    @Test("the suite catches a store whose compare-and-swap ignores the expected version")
    func suiteDetectsBlindWrites() async throws {
        let suite = StoreConformance { LosingStore(barrier: nil) }
        let check = try #require(StoreConformance.Check.named("compare-and-swap outcomes"))
        await #expect(throws: StoreConformance.Failure.self) { try await suite.run(check) }
    }

    @Test("the suite catches a racy compare-and-swap (two winners for one version)")
    func suiteDetectsRacyStore() async throws {
        // Two tasks, one attempt each; the broken store makes both callers meet inside compare-and-swap.
        let suite = StoreConformance(options: .init(concurrentTasks: 2, attemptsPerTask: 1)) {
            LosingStore(barrier: Barrier())
        }
        let concurrent = try #require(StoreConformance.Check.named("concurrent compare-and-swap"))
        let failure = await #expect(throws: StoreConformance.Failure.self) { try await suite.run(concurrent) }
        #expect(failure?.check == "concurrent compare-and-swap")
    }

    @Test("the suite passes with a correct store")
    func suitePassesMemoryStoreWithRunAll() async throws {
        try await StoreConformance(options: .init(concurrentTasks: 8, attemptsPerTask: 20)) { MemoryStore() }.run()
    }

    @Test("every check has a unique name")
    func uniqueNames() {
        let names = StoreConformance.Check.all.map(\.name)
        #expect(Set(names).count == names.count)
        #expect(names.count >= 18)
    }
}

/// Lets the first caller wait until a second one arrives.
actor Barrier {
    private var waiting: CheckedContinuation<Void, Never>?
    func arrive() async {
        if let waiting {
            self.waiting = nil
            waiting.resume()
        } else {
            await withCheckedContinuation { waiting = $0 }
        }
    }
}

/// A deliberately broken store: compare-and-swap ignores the expected version (last writer wins).
final class LosingStore: BrokerStore {
    private let inner = MemoryStore()
    private let barrier: Barrier?
    init(barrier: Barrier?) { self.barrier = barrier }
    var kind: String { "losing" }
    func record(for key: StoreKey) async throws -> TokenRecord? { try await inner.record(for: key) }
    func insert(_ record: TokenRecord, for key: StoreKey) async throws -> InsertOutcome {
        try await inner.insert(record, for: key)
    }
    func compareAndSwap(_ key: StoreKey, expecting expected: UInt64, with new: TokenRecord) async throws
        -> SwapOutcome
    {
        guard try await inner.record(for: key) != nil else { return .missing }
        await barrier?.arrive()
        var stored = new
        stored.version = expected + 1
        _ = try await inner.deleteRecord(for: key)
        _ = try await inner.insert(stored, for: key)
        return .swapped(stored)
    }
    func deleteRecord(for key: StoreKey) async throws -> Bool { try await inner.deleteRecord(for: key) }
    func keys(tenant: TenantID?) async throws -> [StoreKey] { try await inner.keys(tenant: tenant) }
    func saveSession(_ session: AuthorizationSession) async throws { try await inner.saveSession(session) }
    func takeSession(id: String) async throws -> AuthorizationSession? { try await inner.takeSession(id: id) }
    func purgeExpiredSessions(before instant: Date) async throws -> Int {
        try await inner.purgeExpiredSessions(before: instant)
    }
    func acquireRefreshLease(for key: StoreKey, owner: LeaseOwner, ttl: Duration) async throws -> Bool {
        try await inner.acquireRefreshLease(for: key, owner: owner, ttl: ttl)
    }
    func releaseRefreshLease(for key: StoreKey, owner: LeaseOwner) async throws {
        try await inner.releaseRefreshLease(for: key, owner: owner)
    }
}
