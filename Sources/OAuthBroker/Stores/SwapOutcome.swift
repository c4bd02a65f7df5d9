/// The result of ``BrokerStore/compareAndSwap(_:expecting:with:)``.
public enum SwapOutcome: Sendable, Hashable {
    /// The swap happened; the associated record is what the store now holds (its version is `expected + 1`).
    case swapped(TokenRecord)
    /// Another writer changed the record first; the associated record is the current one. Adopt it (after
    /// checking it is usable); never discard it.
    case conflict(current: TokenRecord)
    /// There is no record for the key (it was deleted). Do not recreate it.
    case missing
}

/// The result of ``BrokerStore/insert(_:for:)``.
public enum InsertOutcome: Sendable, Hashable {
    /// The record was stored as given.
    case inserted(TokenRecord)
    /// A record already existed; the associated record is the current one, unchanged.
    case exists(current: TokenRecord)
}
