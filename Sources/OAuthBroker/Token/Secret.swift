/// A secret string (an access, refresh or ID token, a client secret, a PKCE verifier) that never prints.
///
/// Every printed form (`description`, `debugDescription`, string interpolation, `dump`, `Mirror`) is
/// `<redacted>`. `Codable` encodes the raw value, because stores must persist it; decoding errors never quote it.
/// Equality runs in time independent of where two secrets of equal length first differ.
///
/// - Important: Read the value only where it leaves the process on purpose (an `Authorization` header, a form
///   body), through ``revealedValue``.
public struct Secret: Hashable, Sendable, Codable, CustomStringConvertible, CustomDebugStringConvertible,
    CustomReflectable, CustomLeafReflectable
{
    private let value: String

    /// Wraps `value`.
    public init(_ value: String) { self.value = value }

    /// The raw secret. Never log it.
    public var revealedValue: String { value }

    /// Whether the secret is the empty string.
    public var isEmpty: Bool { value.isEmpty }

    /// `<redacted>`.
    public var description: String { "<redacted>" }
    /// `<redacted>`.
    public var debugDescription: String { "<redacted>" }
    /// A mirror with no children, so `dump` and reflection print only `<redacted>`.
    public var customMirror: Mirror { Mirror(self, children: [], displayStyle: nil) }

    /// Decodes a string value.
    public init(from decoder: any Decoder) throws {
        value = try decoder.singleValueContainer().decode(String.self)
    }

    /// Encodes the raw value (stores persist it).
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(value)
    }

    /// Compares in constant time for secrets of equal length.
    public static func == (lhs: Secret, rhs: Secret) -> Bool {
        ConstantTime.equals(Array(lhs.value.utf8), Array(rhs.value.utf8))
    }

    /// Hashes the value (hash tables of secrets are keyed by content).
    public func hash(into hasher: inout Hasher) { hasher.combine(value) }
}
