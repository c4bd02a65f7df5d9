public import Foundation

/// Where the broker keeps token records, pending authorization sessions and refresh leases.
///
/// A store is the source of truth shared by every broker (and every process) that uses it. Each method must be
/// atomic with respect to every other method on the same key, across all processes that share the store.
///
/// ## Records and versions
/// - ``insert(_:for:)`` stores a record only if none exists for the key, keeping the record's ``TokenRecord/version``
///   as given (the broker starts versions at ``TokenRecord/initialVersion(at:)``, which is larger than any version
///   a deleted record could have reached, so a stale writer can never match a re-created record).
/// - ``compareAndSwap(_:expecting:with:)`` replaces the record only if its version equals `expected`; the stored
///   record's version is then `expected + 1` whatever `new.version` says.
///   `.conflict(current)`: another writer won; the caller adopts `current` and never discards it.
///   `.missing`: the record was deleted; the caller must not recreate it.
/// - A failed operation (an I/O error, a corrupt file, a dead server) throws a ``BrokerError`` and changes nothing.
///
/// ## Sessions
/// ``saveSession(_:)`` stores a pending authorization; ``takeSession(id:)`` returns it **and removes it** in one
/// atomic step (single use). A store never returns a session whose ``AuthorizationSession/expiresAt`` has passed
/// on its own clock, and may delete expired sessions at any time.
///
/// ## Refresh leases
/// A store shared by several processes should grant refresh leases (``providesRefreshLeases`` returns `true`):
/// at most one owner holds the lease for a key until it releases it or its time-to-live passes. The broker takes
/// the lease, re-reads the record, and only then calls the token endpoint, so exactly one process refreshes.
/// Stores that live in one process (``MemoryStore``) may still implement leases, but say `false`: the broker's
/// in-process single-flight already covers them.
///
/// Conformance: `OAuthBrokerTesting.StoreConformance` checks every rule above against a store.
public protocol BrokerStore: Sendable {
    /// A short, fixed name for metrics and logs: `memory`, `file`, `sqlite`, `redis`.
    var kind: String { get }

    /// The record for `key`, or `nil`.
    func record(for key: StoreKey) async throws -> TokenRecord?

    /// Stores `record` under `key` only if the key has no record.
    /// - Returns: `.inserted(record)`, or `.exists(current)` leaving the current record untouched.
    func insert(_ record: TokenRecord, for key: StoreKey) async throws -> InsertOutcome

    /// Atomically replaces the record only if its `version` equals `expected`, storing `new` with version
    /// `expected + 1`.
    /// - Returns: `.swapped(stored)`, `.conflict(current:)` or `.missing`.
    func compareAndSwap(_ key: StoreKey, expecting expected: UInt64, with new: TokenRecord) async throws
        -> SwapOutcome

    /// Sets the record's status (revoked, needs re-authorization), bumping its version.
    /// - Returns: The updated record, or `nil` if there is none. The default implementation loops over
    ///   ``compareAndSwap(_:expecting:with:)``; stores with a native atomic update should override it.
    func setStatus(_ status: TokenRecord.Status, for key: StoreKey) async throws -> TokenRecord?

    /// Deletes the record for `key`.
    /// - Returns: Whether a record existed.
    @discardableResult
    func deleteRecord(for key: StoreKey) async throws -> Bool

    /// The keys of all stored records, optionally only one tenant's, in ``StoreKey/storageID`` order.
    /// For tooling: stores may scan.
    func keys(tenant: TenantID?) async throws -> [StoreKey]

    /// Stores a pending authorization session under its ``AuthorizationSession/id``, replacing any with that id.
    func saveSession(_ session: AuthorizationSession) async throws

    /// Removes and returns the session with `id`, or returns `nil` if there is none or it has expired.
    func takeSession(id: String) async throws -> AuthorizationSession?

    /// Deletes sessions that expired before `instant`.
    /// - Returns: How many were deleted.
    @discardableResult
    func purgeExpiredSessions(before instant: Date) async throws -> Int

    /// Whether the broker should coordinate refreshes across processes through this store's leases.
    var providesRefreshLeases: Bool { get }

    /// Tries to take the refresh lease for `key`.
    /// - Returns: `true` if `owner` now holds it (also when it already did: the time-to-live is then renewed);
    ///   `false` if another owner holds an unexpired lease.
    func acquireRefreshLease(for key: StoreKey, owner: LeaseOwner, ttl: Duration) async throws -> Bool

    /// Releases the lease if `owner` holds it; does nothing otherwise.
    func releaseRefreshLease(for key: StoreKey, owner: LeaseOwner) async throws
}

extension BrokerStore {
    /// Loops over compare-and-swap, at most 16 times, re-reading the record after each conflict.
    public func setStatus(_ status: TokenRecord.Status, for key: StoreKey) async throws -> TokenRecord? {
        for _ in 0..<16 {
            guard var current = try await record(for: key) else { return nil }
            if current.status == status { return current }
            let expected = current.version
            current.status = status
            switch try await compareAndSwap(key, expecting: expected, with: current) {
            case .swapped(let stored): return stored
            case .missing: return nil
            case .conflict: continue
            }
        }
        throw BrokerError(.storeFailed, "status update lost 16 compare-and-swap races in a row", key: key)
    }

    /// Stores without leases say `false`.
    public var providesRefreshLeases: Bool { false }

    /// All keys, of every tenant.
    public func keys() async throws -> [StoreKey] { try await keys(tenant: nil) }
}

extension TokenRecord {
    /// The version a newly inserted record starts at: milliseconds since 1970 shifted left by 20 bits.
    ///
    /// Compare-and-swap adds one per write, so a record would need a million writes per millisecond of its life to
    /// reach the starting version of a record created later. A writer holding a version from before a delete can
    /// therefore never match the re-created record. The value stays below 2⁶³, so it fits SQLite's signed integers.
    public static func initialVersion(at instant: Date) -> UInt64 {
        let millis = max(1, Int64((instant.timeIntervalSince1970 * 1000).rounded(.down)))
        return UInt64(millis) << 20
    }
}
