/// Who holds a refresh lease: one broker instance (one per process, unless the application makes more).
///
/// Owners are random by default (a UUID), so a restarted process never mistakes a dead holder's lease for its own.
public struct LeaseOwner: Hashable, Sendable, Codable, CustomStringConvertible {
    /// The owner's identifier.
    public let rawValue: String
    /// Wraps an identifier.
    public init(_ rawValue: String) { self.rawValue = rawValue }
    /// A fresh random owner.
    public static func random() -> LeaseOwner { LeaseOwner(UUIDString.make()) }
    /// The raw value.
    public var description: String { rawValue }
}
