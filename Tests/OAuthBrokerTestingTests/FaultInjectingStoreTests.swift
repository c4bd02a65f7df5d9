import Foundation
import OAuthBroker
import OAuthBrokerTesting
import Testing

@Suite("FaultInjectingStore", .timeLimit(.minutes(2)))
struct FaultInjectingStoreTests {
    private struct Injected: Error, Equatable {}

    private static func key(_ principal: String = "user") throws -> StoreKey {
        try StoreKey(
            provider: "mock", tenant: "fault-" + UUID().uuidString.prefix(8).lowercased(), principal: principal)
    }

    private static func record(_ tag: String = "a") -> TokenRecord {
        TokenRecord(
            accessToken: Secret("access-\(tag)"), refreshToken: Secret("refresh-\(tag)"), scopes: ["read"],
            issuedAt: Date(timeIntervalSince1970: 1_700_000_000), expiresAt: Date(timeIntervalSince1970: 1_700_003_600),
            version: TokenRecord.initialVersion(at: Date()))
    }

    /// A wrapper over a fresh memory store, and the memory store to look behind its back.
    private static func makeStore() -> (FaultInjectingStore, MemoryStore) {
        let inner = MemoryStore()
        return (FaultInjectingStore(wrapping: inner), inner)
    }

    @Test("with nothing armed it passes the store conformance suite", arguments: StoreConformance.Check.all)
    func conformance(_ check: StoreConformance.Check) async throws {
        try await StoreConformance { FaultInjectingStore(wrapping: MemoryStore()) }.run(check)
    }

    @Test("kind forwards; providesRefreshLeases forwards unless overridden")
    func forwardedProperties() {
        let plain = FaultInjectingStore(wrapping: MemoryStore())
        #expect(plain.kind == "memory")
        #expect(!plain.providesRefreshLeases)
        let leasing = FaultInjectingStore(wrapping: MemoryStore(), providesRefreshLeases: true)
        #expect(leasing.providesRefreshLeases)
        #expect(FaultInjectingStore(wrapping: leasing).providesRefreshLeases)
        #expect(!FaultInjectingStore(wrapping: leasing, providesRefreshLeases: false).providesRefreshLeases)
    }

    @Test("a clean write failure throws a transient storeUnavailable and leaves the store unchanged")
    func cleanWriteFailures() async throws {
        let (store, inner) = Self.makeStore()
        let key = try Self.key()
        let original = Self.record()

        store.failNext(of: .writes)
        let error = await #expect(throws: BrokerError.storeUnavailable) { try await store.insert(original, for: key) }
        #expect(error?.isTransient == true)
        #expect(try await inner.record(for: key) == nil)

        #expect(try await store.insert(original, for: key) == .inserted(original))
        var changed = original
        changed.accessToken = Secret("access-changed")
        store.failNext(of: .writes)
        await #expect(throws: BrokerError.storeUnavailable) {
            try await store.compareAndSwap(key, expecting: original.version, with: changed)
        }
        store.failNext(of: .writes)
        await #expect(throws: BrokerError.storeUnavailable) { try await store.setStatus(.revoked, for: key) }
        #expect(try await inner.record(for: key) == original)

        #expect(store.faultsInjected == 3)
        #expect(store.callCount(of: .writes) == 4)
        #expect(store.pendingFaultCount == 0)
    }

    @Test("an ambiguous write failure applies the write, then throws")
    func ambiguousWriteFailures() async throws {
        let (store, inner) = Self.makeStore()
        let key = try Self.key()
        let original = Self.record()

        store.failNext(of: .insert, timing: .afterApplying)
        await #expect(throws: BrokerError.storeUnavailable) { try await store.insert(original, for: key) }
        #expect(try await inner.record(for: key) == original)

        var changed = original
        changed.accessToken = Secret("access-changed")
        store.failNext(of: .compareAndSwap, timing: .afterApplying)
        await #expect(throws: BrokerError.storeUnavailable) {
            try await store.compareAndSwap(key, expecting: original.version, with: changed)
        }
        let swapped = try #require(try await inner.record(for: key))
        #expect(swapped.accessToken == changed.accessToken)
        #expect(swapped.version == original.version + 1)

        store.failNext(of: .setStatus, timing: .afterApplying, error: Injected())
        await #expect(throws: Injected()) { try await store.setStatus(.revoked, for: key) }
        let revoked = try #require(try await inner.record(for: key))
        #expect(revoked.status == .revoked)
        #expect(revoked.version == original.version + 2)
    }

    @Test("a fault covers exactly its count of calls, after the calls it skips")
    func countAndSkipping() async throws {
        let (store, inner) = Self.makeStore()
        let key = try Self.key()
        var record = Self.record()
        _ = try await inner.insert(record, for: key)

        store.failNext(2, of: .compareAndSwap, skipping: 1)
        #expect(store.pendingFaultCount == 2)
        var outcomes: [Bool] = []
        for attempt in 0..<4 {
            record.accessToken = Secret("access-\(attempt)")
            let current = try #require(try await inner.record(for: key))
            do {
                _ = try await store.compareAndSwap(key, expecting: current.version, with: record)
                outcomes.append(true)
            } catch let error as BrokerError {
                #expect(error.code == .storeUnavailable)
                outcomes.append(false)
            }
        }
        #expect(outcomes == [true, false, false, true])
        #expect(store.pendingFaultCount == 0)
        #expect(store.faultsInjected == 2)
        #expect(try await inner.record(for: key)?.accessToken == Secret("access-3"))
    }

    @Test("read faults fail record(for:) only; faults are matched in the order they were armed")
    func readFailures() async throws {
        let (store, inner) = Self.makeStore()
        let key = try Self.key()
        let record = Self.record()
        _ = try await inner.insert(record, for: key)

        store.failNext(of: .reads, error: Injected())
        store.failNext(of: [.record, .insert])
        // The insert is covered only by the second fault, which it uses up.
        await #expect(throws: BrokerError.storeUnavailable) {
            try await store.insert(Self.record("b"), for: try Self.key("other"))
        }
        await #expect(throws: Injected()) { try await store.record(for: key) }
        #expect(try await store.record(for: key) == record)
        #expect(store.callCount(of: .record) == 2)
        #expect(store.faultsInjected == 2)

        store.failNext(of: .reads)
        store.removeAllFaults()
        #expect(store.pendingFaultCount == 0)
        #expect(try await store.record(for: key) != nil)
    }

    @Test("lease faults: a clean failure takes no lease, an ambiguous one does, a refusal answers false")
    func leaseFaults() async throws {
        let owner = LeaseOwner.random()
        let rival = LeaseOwner.random()

        let (clean, cleanInner) = Self.makeStore()
        let key = try Self.key()
        clean.failNext(of: .acquireRefreshLease)
        await #expect(throws: BrokerError.storeUnavailable) {
            try await clean.acquireRefreshLease(for: key, owner: owner, ttl: .seconds(60))
        }
        #expect(try await cleanInner.acquireRefreshLease(for: key, owner: rival, ttl: .seconds(60)))

        let (ambiguous, ambiguousInner) = Self.makeStore()
        ambiguous.failNext(of: .acquireRefreshLease, timing: .afterApplying)
        await #expect(throws: BrokerError.storeUnavailable) {
            try await ambiguous.acquireRefreshLease(for: key, owner: owner, ttl: .seconds(60))
        }
        #expect(!(try await ambiguousInner.acquireRefreshLease(for: key, owner: rival, ttl: .seconds(60))))

        let (refusing, refusingInner) = Self.makeStore()
        refusing.refuseNextLeaseAcquisitions()
        #expect(!(try await refusing.acquireRefreshLease(for: key, owner: owner, ttl: .seconds(60))))
        #expect(try await refusingInner.acquireRefreshLease(for: key, owner: rival, ttl: .seconds(60)))
        #expect(refusing.faultsInjected == 1)
    }

    @Test("a renewal can be refused or failed while the first acquisition succeeds")
    func renewalFaults() async throws {
        let (store, _) = Self.makeStore()
        let key = try Self.key()
        let owner = LeaseOwner.random()
        store.refuseNextLeaseAcquisitions(skipping: 1)
        #expect(try await store.acquireRefreshLease(for: key, owner: owner, ttl: .seconds(60)))
        #expect(!(try await store.acquireRefreshLease(for: key, owner: owner, ttl: .seconds(60))))
        store.failNext(of: .acquireRefreshLease)
        await #expect(throws: BrokerError.storeUnavailable) {
            try await store.acquireRefreshLease(for: key, owner: owner, ttl: .seconds(60))
        }
        #expect(try await store.acquireRefreshLease(for: key, owner: owner, ttl: .seconds(60)))
        #expect(store.callCount(of: .acquireRefreshLease) == 4)
    }

    @Test("a delayed write is in flight after its start is reported, and cancelling the caller does not stop it")
    func delayedWrite() async throws {
        let (store, inner) = Self.makeStore()
        let key = try Self.key()
        let record = Self.record()
        store.writeDelay = .seconds(1)
        #expect(store.writeDelay == .seconds(1))
        var calls = store.makeCallStream().makeAsyncIterator()
        let start = ContinuousClock.now
        let write = Task { try await store.insert(record, for: key) }
        #expect(await calls.next() == .insert)
        #expect(try await inner.record(for: key) == nil)
        write.cancel()
        #expect(try await write.value == .inserted(record))
        #expect(start.duration(to: .now) >= .seconds(1))
        #expect(try await inner.record(for: key) == record)
        // Reads are not delayed.
        let readStart = ContinuousClock.now
        _ = try await store.record(for: key)
        #expect(readStart.duration(to: .now) < .seconds(1))
    }

    @Test("every call stream sees every call from its creation on, in order; counts add up")
    func callStreamsAndCounts() async throws {
        let (store, _) = Self.makeStore()
        let key = try Self.key()
        let record = Self.record()
        var first = store.makeCallStream().makeAsyncIterator()
        var second = store.makeCallStream().makeAsyncIterator()
        _ = try await store.record(for: key)
        _ = try await store.insert(record, for: key)
        store.failNext(of: .compareAndSwap)
        _ = try? await store.compareAndSwap(key, expecting: record.version, with: record)
        var late = store.makeCallStream().makeAsyncIterator()
        _ = try await store.keys(tenant: key.tenant)

        let expected: [FaultInjectingStore.Operations] = [.record, .insert, .compareAndSwap, .keys]
        var seenFirst: [FaultInjectingStore.Operations] = []
        var seenSecond: [FaultInjectingStore.Operations] = []
        for _ in expected {
            seenFirst.append(try #require(await first.next()))
            seenSecond.append(try #require(await second.next()))
        }
        #expect(seenFirst == expected)
        #expect(seenSecond == expected)
        #expect(await late.next() == .keys)

        #expect(store.callCount(of: .writes) == 2)
        #expect(store.callCount(of: [.record, .keys]) == 2)
        #expect(store.callCount(of: .all) == 4)
        store.resetCounts()
        #expect(store.callCount(of: .all) == 0)
        #expect(store.faultsInjected == 0)
    }

    @Test("a call stream finishes when its store is deallocated")
    func streamFinishes() async {
        var store: FaultInjectingStore? = FaultInjectingStore(wrapping: MemoryStore())
        var calls = store!.makeCallStream().makeAsyncIterator()
        store = nil
        #expect(await calls.next() == nil)
    }

    @Test("operation sets name their members")
    func operationNames() {
        #expect(FaultInjectingStore.Operations.compareAndSwap.description == "compareAndSwap")
        #expect(FaultInjectingStore.Operations.writes.description == "[insert, compareAndSwap, setStatus]")
        #expect(FaultInjectingStore.Operations.all.elements.count == 11)
        #expect(FaultInjectingStore.FailureTiming.afterApplying.description == "afterApplying")
    }
}
