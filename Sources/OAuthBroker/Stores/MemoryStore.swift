public import Foundation
import Synchronization

/// A ``BrokerStore`` in process memory: fast, and gone when the process exits.
///
/// Every operation is one short critical section under a `Mutex`. Leases are implemented (so the store passes the
/// full conformance suite) but ``providesRefreshLeases`` is `false`: one process needs only the broker's
/// in-process single-flight.
public final class MemoryStore: ResealableStore {
    private struct Lease {
        var owner: LeaseOwner
        var expiresAt: Date
    }

    private struct State {
        var records: [StoreKey: TokenRecord] = [:]
        var sessions: [String: AuthorizationSession] = [:]
        var leases: [StoreKey: Lease] = [:]
    }

    private let state = Mutex(State())
    private let now: @Sendable () -> Date

    /// Creates an empty store.
    /// - Parameter now: The wall clock used for session expiry and lease time-to-live; the system clock by default.
    public init(now: @escaping @Sendable () -> Date = { Date() }) {
        self.now = now
    }

    /// `memory`.
    public var kind: String { "memory" }

    /// The record for `key`, or `nil`.
    public func record(for key: StoreKey) async throws -> TokenRecord? {
        state.withLock { $0.records[key] }
    }

    /// Stores `record` if the key has none.
    public func insert(_ record: TokenRecord, for key: StoreKey) async throws -> InsertOutcome {
        state.withLock { state in
            if let current = state.records[key] { return .exists(current: current) }
            state.records[key] = record
            return .inserted(record)
        }
    }

    /// Replaces the record if its version is `expected`.
    public func compareAndSwap(_ key: StoreKey, expecting expected: UInt64, with new: TokenRecord) async throws
        -> SwapOutcome
    {
        state.withLock { state in
            guard let current = state.records[key] else { return .missing }
            guard current.version == expected else { return .conflict(current: current) }
            var stored = new
            stored.version = expected &+ 1
            state.records[key] = stored
            return .swapped(stored)
        }
    }

    /// Sets the status in one critical section.
    public func setStatus(_ status: TokenRecord.Status, for key: StoreKey) async throws -> TokenRecord? {
        state.withLock { state in
            guard var current = state.records[key] else { return nil }
            guard current.status != status else { return current }
            current.status = status
            current.version &+= 1
            state.records[key] = current
            return current
        }
    }

    /// Deletes the record.
    @discardableResult
    public func deleteRecord(for key: StoreKey) async throws -> Bool {
        state.withLock { $0.records.removeValue(forKey: key) != nil }
    }

    /// Keys in storage-ID order.
    public func keys(tenant: TenantID?) async throws -> [StoreKey] {
        let keys = state.withLock { Array($0.records.keys) }
        return keys.filter { tenant == nil || $0.tenant == tenant }.sorted { $0.storageID < $1.storageID }
    }

    /// Saves a session.
    public func saveSession(_ session: AuthorizationSession) async throws {
        state.withLock { $0.sessions[session.id] = session }
    }

    /// Removes and returns an unexpired session.
    public func takeSession(id: String) async throws -> AuthorizationSession? {
        let instant = now()
        return state.withLock { state in
            guard let session = state.sessions.removeValue(forKey: id) else { return nil }
            return session.isExpired(at: instant) ? nil : session
        }
    }

    /// Sessions are kept as values, not encoded: there is nothing to re-encode.
    /// - Returns: `0`.
    public func resealSessions() async throws -> Int { 0 }

    /// Deletes expired sessions.
    @discardableResult
    public func purgeExpiredSessions(before instant: Date) async throws -> Int {
        state.withLock { state in
            let before = state.sessions.count
            state.sessions = state.sessions.filter { !$0.value.isExpired(at: instant) }
            return before - state.sessions.count
        }
    }

    /// Takes or renews the lease.
    public func acquireRefreshLease(for key: StoreKey, owner: LeaseOwner, ttl: Duration) async throws -> Bool {
        let instant = now()
        return state.withLock { state in
            if let lease = state.leases[key], lease.owner != owner, lease.expiresAt > instant { return false }
            state.leases[key] = Lease(owner: owner, expiresAt: instant.addingTimeInterval(ttl.timeInterval))
            return true
        }
    }

    /// Releases the lease if `owner` holds it.
    public func releaseRefreshLease(for key: StoreKey, owner: LeaseOwner) async throws {
        state.withLock { state in
            if state.leases[key]?.owner == owner { state.leases.removeValue(forKey: key) }
        }
    }
}

extension Duration {
    /// The duration in seconds, as a `TimeInterval`.
    public var timeInterval: TimeInterval {
        let (seconds, attoseconds) = components
        return TimeInterval(seconds) + TimeInterval(attoseconds) / 1e18
    }
}
