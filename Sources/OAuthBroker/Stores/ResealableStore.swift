/// A ``BrokerStore`` whose stored records and pending sessions can be re-encoded through its ``StoreCodec``, so a
/// key rotation of a ``SealingStoreCodec`` can finish: after ``resealAll(tenant:leaseTTL:leaseWait:)`` nothing in
/// the store is sealed under an old key (or stored plain), and the old key can be dropped.
///
/// ``FileStore``, ``MemoryStore``, `SQLiteStore` and `RedisStore` conform.
public protocol ResealableStore: BrokerStore {
    /// Re-encodes every unexpired pending session through the store's codec (under a sealing codec's current key).
    ///
    /// - Every session is decoded before any is written: when one cannot be decoded (a key id the codec lacks, a
    ///   blob that fails authentication) the call throws and changes nothing.
    /// - Each session is replaced only if it is still stored exactly as it was read, so a session taken meanwhile
    ///   is never stored again (sessions stay single-use); its expiry is kept. Expired sessions are left alone.
    /// - Returns: How many sessions were re-encoded (`0` for a store without a codec).
    /// - Throws: ``BrokerError`` from the store or the codec.
    func resealSessions() async throws -> Int
}

/// What ``ResealableStore/resealAll(tenant:leaseTTL:leaseWait:)`` re-encoded.
public struct ResealReport: Sendable, Hashable {
    /// How many records were re-encoded (plain ones included).
    public var records: Int
    /// How many pending sessions were re-encoded.
    public var sessions: Int

    /// Creates a report.
    /// - Parameters:
    ///   - records: Records re-encoded.
    ///   - sessions: Sessions re-encoded.
    public init(records: Int, sessions: Int) {
        self.records = records
        self.sessions = sessions
    }
}

extension ResealableStore {
    /// Re-encodes every record (of one tenant, or all) and every pending session through the store's codec: with
    /// a ``SealingStoreCodec``, re-seals them under its current key.
    ///
    /// 1. Every record is read (decoded) first: when one cannot be decoded, the call throws before anything is
    ///    written (``BrokerError/Code/sealingKeyMissing`` names a key id the codec lacks).
    /// 2. Sessions are re-encoded by ``resealSessions()`` (which also decodes all before writing any).
    /// 3. Each record is rewritten by compare-and-swap with its own content while holding the key's refresh lease,
    ///    so no broker refreshes the key in between (a broker that lost its write to this one would otherwise adopt
    ///    the older tokens). The record's ``TokenRecord/version`` goes up by one; a record another writer changed
    ///    meanwhile is read again and rewritten, and a record deleted meanwhile stays deleted and is not counted.
    ///
    /// - Important: Leases coordinate only with brokers that use them (stores whose
    ///   ``BrokerStore/providesRefreshLeases`` is `true`). On a ``MemoryStore`` there is nothing to re-seal.
    /// - Parameters:
    ///   - tenant: Only this tenant's records, or `nil` for all. Sessions are always all re-encoded.
    ///   - leaseTTL: The time-to-live of each key's lease while its record is rewritten.
    ///   - leaseWait: How long to wait for a key whose lease a refreshing broker holds.
    /// - Returns: How many records and sessions were re-encoded.
    /// - Throws: ``BrokerError``: the store's and the codec's errors; ``BrokerError/Code/leaseUnavailable`` when a
    ///   key's lease stays taken past `leaseWait` (records re-encoded before it stay re-encoded; run it again).
    public func resealAll(
        tenant: TenantID? = nil, leaseTTL: Duration = .seconds(30), leaseWait: Duration = .seconds(30)
    ) async throws -> ResealReport {
        let keys = try await keys(tenant: tenant)
        for key in keys { _ = try await record(for: key) }
        let sessions = try await resealSessions()
        let owner = LeaseOwner.random()
        var records = 0
        for key in keys {
            try await takeLease(for: key, owner: owner, ttl: leaseTTL, wait: leaseWait)
            do {
                if try await resealRecord(for: key) { records += 1 }
            } catch {
                try? await releaseRefreshLease(for: key, owner: owner)
                throw error
            }
            try await releaseRefreshLease(for: key, owner: owner)
        }
        return ResealReport(records: records, sessions: sessions)
    }

    private func takeLease(for key: StoreKey, owner: LeaseOwner, ttl: Duration, wait: Duration) async throws {
        let clock = ContinuousClock()
        let deadline = clock.now + wait
        var delay = Duration.milliseconds(20)
        while !(try await acquireRefreshLease(for: key, owner: owner, ttl: ttl)) {
            guard clock.now + delay < deadline else {
                throw BrokerError(
                    .leaseUnavailable, "another broker held the key's refresh lease for longer than \(wait)", key: key)
            }
            try await Task.sleep(for: delay)
            delay = min(delay * 2, .milliseconds(500))
        }
    }

    /// Rewrites one record with its own content; `false` if it is gone.
    private func resealRecord(for key: StoreKey) async throws -> Bool {
        for _ in 0..<16 {
            guard let current = try await record(for: key) else { return false }
            switch try await compareAndSwap(key, expecting: current.version, with: current) {
            case .swapped: return true
            case .missing: return false
            case .conflict: continue
            }
        }
        throw BrokerError(.storeFailed, "re-sealing lost 16 compare-and-swap races in a row", key: key)
    }
}
