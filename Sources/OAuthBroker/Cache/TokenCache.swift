import Foundation
import Synchronization

/// The broker's in-process cache of the latest usable token per key: what makes a cache hit cost no store round
/// trip, no actor hop, no allocation and no contended memory write.
///
/// ## Layout
/// - The **master table**: sixteen shards, each a `Mutex` around `[StoreKey: Item]`, chosen by the key's
///   precomputed hash. Every write goes here first, and every slow-path read (stale, refresh, invalidate) reads
///   here. An item holds the entry and, weakly, the key's ``Cell`` when a ``TokenHandle`` exists.
/// - **Per-CPU tables**: one `Mutex<ReplicaTable>` per CPU (up to 16, by `sched_getcpu()`), filled lazily
///   from the master table with the CPU's *own copy* of the ``AccessToken``. A hit locks only its CPU's table and
///   retains only its CPU's token object, so concurrent hits on one key from several cores write no shared cache
///   line: 64 tasks on two cores run as fast as two.
/// - **Cells** (for handles): the same per-CPU replication for one key, without the dictionary probe.
///
/// ## Consistency
/// Writers update the master table, then clear the key from every per-CPU table and cell replica. Readers refill
/// a replica from the master table while holding the replica's lock. So a replica never keeps a value older than
/// the master after the writer that replaced it returns.
///
/// ## Cost of a hit through ``freshToken(for:)``
/// one coarse clock read, one `sched_getcpu()`, one uncontended lock, one multiply-shift of the precomputed hash
/// and (usually) one probe compared by identity, one comparison of two `Date`s and one retain of a CPU-local
/// object.
final class TokenCache: Sendable {
    /// A cached token and its instants: the hit path serves it until `freshUntil`, the earlier of `staleAt` (the
    /// refresh policy's stale instant) and the next check against the store (the revalidation interval).
    struct Entry: Sendable {
        let token: AccessToken
        let freshUntil: Date
        let staleAt: Date
        let expiresAt: Date

        init(token: AccessToken, freshUntil: Date? = nil, staleAt: Date, expiresAt: Date) {
            self.token = token
            self.freshUntil = freshUntil.map { min($0, staleAt) } ?? staleAt
            self.staleAt = staleAt
            self.expiresAt = expiresAt
        }
    }

    /// A master entry: the token, and the record it came from stripped of everything but what an ``AccessToken``
    /// holds (so per-CPU copies can be made; no refresh token or ID token is kept here).
    private struct MasterEntry: Sendable {
        let entry: Entry
        let source: TokenRecord
    }

    private struct Item {
        var master: MasterEntry?
        weak var cell: Cell?
    }

    /// One lock-protected slot, padded so that two replicas never share a cache line.
    final class Replica: Sendable {
        let entry = Mutex<Entry?>(nil)
        // 96 bytes of padding after the 16-byte header and the ~40-byte mutex and entry.
        private let padding: (Int, Int, Int, Int, Int, Int, Int, Int, Int, Int, Int, Int) = (
            0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0
        )
    }

    /// The per-key state shared by every ``TokenHandle`` of one key: one replica per CPU.
    final class Cell: Sendable {
        let key: StoreKey
        /// Retained once here and released in `deinit`, so the hit path can borrow a replica without a retain
        /// and release on its (CPU-local) reference count.
        fileprivate let replicas: [Unmanaged<Replica>]
        fileprivate init(key: StoreKey, count: Int) {
            self.key = key
            replicas = (0..<count).map { _ in Unmanaged.passRetained(Replica()) }
        }
        deinit {
            for replica in replicas { replica.release() }
        }
    }

    private final class Shard: Sendable {
        let items = Mutex<[StoreKey: Item]>([:])
    }

    /// A per-CPU table of replicas, padded like ``Replica``.
    private final class CPUTable: Sendable {
        let table = Mutex(ReplicaTable())
        private let padding: (Int, Int, Int, Int, Int, Int, Int, Int, Int, Int, Int, Int) = (
            0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0
        )
    }

    private static let shardCount = 16
    private let shards: [Shard] = (0..<TokenCache.shardCount).map { _ in Shard() }
    /// Retained once here and released in `deinit` (see ``Cell/replicas``).
    private let tables: [Unmanaged<CPUTable>]
    private let cpu: CurrentCPU
    /// The time source of the hit path.
    let clock: CacheClock

    init(clock: BrokerClock = .system) {
        self.clock = CacheClock(clock)
        cpu = CurrentCPU()
        tables = (0..<cpu.slotCount).map { _ in Unmanaged.passRetained(CPUTable()) }
    }

    deinit {
        for table in tables { table.release() }
    }

    private func shard(for key: StoreKey) -> Shard {
        shards[Int(truncatingIfNeeded: key.precomputedHash % UInt64(Self.shardCount))]
    }

    // MARK: - Hit path

    /// The cached token for `key` if it is fresh now (by ``clock``), else `nil`.
    @inline(__always)
    func freshToken(for key: StoreKey) -> AccessToken? {
        let now = clock.now()
        let entry = tables[cpu.slot()]._withUnsafeGuaranteedRef { table in
            table.table.withLock { table -> Entry? in
                if let entry = table.entry(for: key) { return entry }
                guard let copy = makeReplica(of: key) else { return nil }
                table.set(copy, for: key)
                return copy
            }
        }
        guard let entry, now < entry.freshUntil else { return nil }
        return entry.token
    }

    /// The cached token of `cell`'s key if it is fresh now, else `nil`.
    @inline(__always)
    func freshToken(in cell: Cell) -> AccessToken? {
        let now = clock.now()
        let entry = cell.replicas[cpu.slot()]._withUnsafeGuaranteedRef { replica in
            replica.entry.withLock { entry -> Entry? in
                if let entry { return entry }
                entry = makeReplica(of: cell.key)
                return entry
            }
        }
        guard let entry, now < entry.freshUntil else { return nil }
        return entry.token
    }

    /// A CPU-local copy of the master entry (its own ``AccessToken`` object), or `nil` when there is none.
    private func makeReplica(of key: StoreKey) -> Entry? {
        guard let master = shard(for: key).items.withLock({ $0[key]?.master }) else { return nil }
        return Entry(
            token: AccessToken(record: master.source, key: key), freshUntil: master.entry.freshUntil,
            staleAt: master.entry.staleAt, expiresAt: master.entry.expiresAt)
    }

    // MARK: - Master table

    /// The master entry for `key` (for the slow paths).
    func entry(for key: StoreKey) -> Entry? {
        shard(for: key).items.withLock { $0[key]?.master?.entry }
    }

    /// Caches `record`'s token for `key` unless the cache already holds a newer version, and returns the token
    /// now cached (or the one made from `record` when a newer one wins).
    @discardableResult
    func store(_ record: TokenRecord, for key: StoreKey, freshUntil: Date? = nil, staleAt: Date, expiresAt: Date)
        -> AccessToken
    {
        var source = record
        source.refreshToken = nil
        source.idToken = nil
        source.extraFields = [:]
        let token = AccessToken(record: source, key: key)
        let master = MasterEntry(
            entry: Entry(token: token, freshUntil: freshUntil, staleAt: staleAt, expiresAt: expiresAt), source: source)
        let (stored, cell) = shard(for: key).items.withLock { items -> (Bool, Cell?) in
            var item = items[key] ?? Item()
            if let current = item.master, current.entry.token.version > record.version { return (false, nil) }
            item.master = master
            items[key] = item
            return (true, item.cell)
        }
        if stored { clearReplicas(of: key, cell: cell) }
        return token
    }

    /// Moves `key`'s ``Entry/freshUntil`` to `instant` (never past its stale instant), keeping its token: the next
    /// check against the store is postponed (the last one failed).
    func postpone(_ key: StoreKey, until instant: Date) {
        let (changed, cell) = shard(for: key).items.withLock { items -> (Bool, Cell?) in
            guard var item = items[key], let master = item.master else { return (false, nil) }
            let entry = master.entry
            item.master = MasterEntry(
                entry: Entry(
                    token: entry.token, freshUntil: instant, staleAt: entry.staleAt, expiresAt: entry.expiresAt),
                source: master.source)
            items[key] = item
            return (true, item.cell)
        }
        if changed { clearReplicas(of: key, cell: cell) }
    }

    /// Drops `key`'s token.
    func remove(_ key: StoreKey) {
        let cell = shard(for: key).items.withLock { items -> Cell? in
            guard var item = items[key] else { return nil }
            guard let cell = item.cell else {
                items.removeValue(forKey: key)
                return nil
            }
            // A handle still refers to the cell: keep the item so later writes reach it.
            item.master = nil
            items[key] = item
            return cell
        }
        clearReplicas(of: key, cell: cell)
    }

    /// The cell for `key`, made on first use; live as long as a handle holds it.
    func cell(for key: StoreKey) -> Cell {
        shard(for: key).items.withLock { items in
            var item = items[key] ?? Item()
            if let cell = item.cell { return cell }
            let cell = Cell(key: key, count: tables.count)
            item.cell = cell
            items[key] = item
            return cell
        }
    }

    private func clearReplicas(of key: StoreKey, cell: Cell?) {
        for table in tables {
            table._withUnsafeGuaranteedRef { $0.table.withLock { $0.remove(key) } }
        }
        if let cell {
            for replica in cell.replicas { replica._withUnsafeGuaranteedRef { $0.entry.withLock { $0 = nil } } }
        }
    }

    /// The number of keys with a cached token.
    var count: Int {
        shards.reduce(0) { sum, shard in sum + shard.items.withLock { $0.values.count { $0.master != nil } } }
    }
}
