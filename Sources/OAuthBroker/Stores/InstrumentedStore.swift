import Foundation
import Logging

/// The broker's view of its ``BrokerStore``: every call timed, counted and named in one place
/// (`oauth_broker_store_operation_duration_seconds{operation=…}`), and every failure turned into a
/// ``BrokerError`` that names the provider and the (redacted) key.
///
/// A non-``BrokerError`` failure becomes ``BrokerError/Code/storeFailed``; cancellation passes through.
struct InstrumentedStore: Sendable {
    let base: any BrokerStore
    let metrics: BrokerMetrics
    let provider: ProviderID
    let logger: Logger

    var kind: String { base.kind }
    var providesRefreshLeases: Bool { base.providesRefreshLeases }

    func record(for key: StoreKey) async throws -> TokenRecord? {
        try await call("record", key) { try await base.record(for: key) }
    }

    func insert(_ record: TokenRecord, for key: StoreKey) async throws -> InsertOutcome {
        try await call("insert", key) { try await base.insert(record, for: key) }
    }

    func compareAndSwap(_ key: StoreKey, expecting expected: UInt64, with new: TokenRecord) async throws
        -> SwapOutcome
    {
        try await call("compare_and_swap", key) { try await base.compareAndSwap(key, expecting: expected, with: new) }
    }

    func setStatus(_ status: TokenRecord.Status, for key: StoreKey) async throws -> TokenRecord? {
        try await call("set_status", key) { try await base.setStatus(status, for: key) }
    }

    func saveSession(_ session: AuthorizationSession) async throws {
        try await call("save_session", session.key) { try await base.saveSession(session) }
    }

    func takeSession(id: String) async throws -> AuthorizationSession? {
        try await call("take_session", nil) { try await base.takeSession(id: id) }
    }

    /// Takes or renews (same owner) the refresh lease.
    func acquireLease(for key: StoreKey, owner: LeaseOwner, ttl: Duration) async throws -> Bool {
        try await call("acquire_lease", key) { try await base.acquireRefreshLease(for: key, owner: owner, ttl: ttl) }
    }

    /// Releases the lease; a failure is logged, not thrown: the lease then ends by its time-to-live.
    func releaseLease(for key: StoreKey, owner: LeaseOwner) async {
        do {
            try await call("release_lease", key) { try await base.releaseRefreshLease(for: key, owner: owner) }
        } catch {
            logger.warning(
                "could not release the refresh lease; it expires by itself",
                metadata: ["oauth.key": "\(key)", "error": "\((error as? BrokerError)?.code.description ?? "other")"])
        }
    }

    /// Runs one store call, timing it and counting failures.
    private func call<T>(_ operation: String, _ key: StoreKey?, _ body: () async throws -> T) async throws -> T {
        let start = MonotonicTime.now()
        do {
            let result = try await body()
            metrics.storeOperation(operation, nanoseconds: MonotonicTime.nanoseconds(since: start), errorCode: nil)
            return result
        } catch let error as BrokerError {
            metrics.storeOperation(
                operation, nanoseconds: MonotonicTime.nanoseconds(since: start), errorCode: error.code.description)
            throw error.adding(provider: provider, key: key)
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            metrics.storeOperation(
                operation, nanoseconds: MonotonicTime.nanoseconds(since: start), errorCode: "store_failed")
            throw BrokerError(
                .storeFailed, "the \(base.kind) store failed: \(type(of: error))", provider: provider, key: key,
                underlying: error)
        }
    }
}
