/// A small open-addressing hash table from ``StoreKey`` to ``TokenCache/Entry``, for one CPU's replicas.
///
/// It exists so that a cache hit hashes nothing: the slot comes from the key's precomputed 64-bit hash by one
/// multiply-shift with a random odd multiplier drawn per table (universal hashing, so crafted keys cannot aim at
/// one slot without knowing the multiplier), then linear probing compares keys, which is a pointer comparison
/// for the same `StoreKey` value. Deletion shifts later entries back (no tombstones). The table doubles when it
/// is half full.
struct ReplicaTable {
    private struct Slot {
        let key: StoreKey
        let entry: TokenCache.Entry
    }

    private var slots: [Slot?]
    private var shift: UInt64
    private let multiplier: UInt64
    private(set) var count = 0

    init() {
        slots = [Slot?](repeating: nil, count: 16)
        shift = 64 - 4
        multiplier = UInt64.random(in: 0...UInt64.max) | 1
    }

    private var mask: Int { slots.count - 1 }

    @inline(__always)
    private func home(of key: StoreKey) -> Int {
        Int(truncatingIfNeeded: (key.precomputedHash &* multiplier) >> shift)
    }

    /// The entry for `key`, if any.
    @inline(__always)
    func entry(for key: StoreKey) -> TokenCache.Entry? {
        var index = home(of: key)
        while let slot = slots[index] {
            if slot.key == key { return slot.entry }
            index = (index + 1) & mask
        }
        return nil
    }

    /// Inserts or replaces the entry for `key`.
    mutating func set(_ entry: TokenCache.Entry, for key: StoreKey) {
        if (count + 1) * 2 > slots.count { grow() }
        var index = home(of: key)
        while let slot = slots[index] {
            if slot.key == key {
                slots[index] = Slot(key: key, entry: entry)
                return
            }
            index = (index + 1) & mask
        }
        slots[index] = Slot(key: key, entry: entry)
        count += 1
    }

    /// Removes the entry for `key`, if any.
    mutating func remove(_ key: StoreKey) {
        var index = home(of: key)
        while let slot = slots[index] {
            if slot.key == key { break }
            index = (index + 1) & mask
        }
        guard slots[index] != nil else { return }
        slots[index] = nil
        count -= 1
        // Backward-shift deletion: move later entries of the probe run into the hole when their home allows it.
        var hole = index
        var next = (index + 1) & mask
        while let slot = slots[next] {
            let home = home(of: slot.key)
            // The entry may move to the hole if its home is not cyclically within (hole, next].
            let distanceToNext = (next - home) & mask
            let distanceToHole = (hole - home) & mask
            if distanceToHole < distanceToNext {
                slots[hole] = slot
                slots[next] = nil
                hole = next
            }
            next = (next + 1) & mask
        }
    }

    private mutating func grow() {
        let old = slots
        slots = [Slot?](repeating: nil, count: old.count * 2)
        shift -= 1
        count = 0
        for case let slot? in old { set(slot.entry, for: slot.key) }
    }
}
