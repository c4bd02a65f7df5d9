import Foundation
import Synchronization

/// The broker's in-process cache of the latest usable token per key: what makes a cache hit cost no store round
/// trip and no actor hop.
///
/// Sixteen shards, each a `Mutex` around a dictionary, chosen by the key's precomputed hash, so two threads rarely
/// contend. A hit is one clock read, one shard lock, one dictionary probe (hashing one integer) and one
/// reference-count increment for the returned ``AccessToken``.
final class TokenCache: Sendable {
    struct Entry: Sendable {
        let token: AccessToken
        let staleAt: Date
        let expiresAt: Date
    }

    private final class Shard: Sendable {
        let entries = Mutex<[StoreKey: Entry]>([:])
    }

    private static let shardCount = 16
    private let shards: [Shard] = (0..<TokenCache.shardCount).map { _ in Shard() }

    private func shard(for key: StoreKey) -> Shard {
        shards[Int(truncatingIfNeeded: key.precomputedHash % UInt64(Self.shardCount))]
    }

    func entry(for key: StoreKey) -> Entry? {
        shard(for: key).entries.withLock { $0[key] }
    }

    /// Stores the entry unless the cache already holds a newer version of the key.
    func store(_ entry: Entry, for key: StoreKey) {
        shard(for: key).entries.withLock { entries in
            if let current = entries[key], current.token.version > entry.token.version { return }
            entries[key] = entry
        }
    }

    func remove(_ key: StoreKey) {
        _ = shard(for: key).entries.withLock { $0.removeValue(forKey: key) }
    }

    var count: Int { shards.reduce(0) { sum, shard in sum + shard.entries.withLock { $0.count } } }
}
