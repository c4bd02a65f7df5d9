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

/// Random UUID strings without importing Foundation's `UUID` into every call site.
enum UUIDString {
    static func make() -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<16).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        let hex = Hex.encode(bytes)
        let chars = Array(hex)
        return String(chars[0..<8]) + "-" + String(chars[8..<12]) + "-" + String(chars[12..<16]) + "-"
            + String(chars[16..<20]) + "-" + String(chars[20..<32])
    }
}
