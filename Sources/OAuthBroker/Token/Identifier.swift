/// What distinguishes one kind of ``Identifier`` from another: its name in messages and its length limit.
public protocol IdentifierKind: Sendable {
    /// The name used in error messages, for example `"tenant ID"`.
    static var name: String { get }
    /// The longest accepted identifier, in UTF-8 bytes.
    static var maxLength: Int { get }
}

/// A validated identifier of some ``IdentifierKind``: ``TenantID``, ``PrincipalID`` or ``ProviderID``.
///
/// Validation: not empty, at most `Kind.maxLength` UTF-8 bytes, no leading or trailing white space (input is
/// rejected, not trimmed, so two spellings never name one tenant), and no control or invisible format characters.
///
/// Identifiers compare **byte for byte** (their UTF-8 bytes), not as Swift `String`s: `String` equality is
/// canonical equivalence, under which `jos\u{E9}` (precomposed é) and `jose\u{301}` (e + combining acute) are
/// equal. Here they are two different principals, exactly as every store (SQLite, Redis, the file store) and
/// every authorization server compares them, so one can never read or overwrite the other's token. Input is not
/// normalized: normalize to NFC before creating identifiers if your application wants both spellings to name one
/// user.
public struct Identifier<Kind: IdentifierKind>: Hashable, Sendable, Codable, Comparable, CustomStringConvertible {
    /// The validated identifier.
    public let rawValue: String

    /// Validates and wraps `rawValue`.
    /// - Throws: ``BrokerError`` with code ``BrokerError/Code/invalidInput`` naming the rule that failed.
    public init(_ rawValue: String) throws {
        let kind = Kind.name
        guard !rawValue.isEmpty else { throw BrokerError(.invalidInput, "\(kind) must not be empty") }
        guard rawValue.utf8.count <= Kind.maxLength else {
            throw BrokerError(.invalidInput, "\(kind) is longer than \(Kind.maxLength) bytes")
        }
        if let first = rawValue.unicodeScalars.first, let last = rawValue.unicodeScalars.last,
            first.properties.isWhitespace || last.properties.isWhitespace
        {
            throw BrokerError(.invalidInput, "\(kind) has leading or trailing white space")
        }
        for scalar in rawValue.unicodeScalars where PrintableText.isUnprintable(scalar) {
            throw BrokerError(.invalidInput, "\(kind) contains a control character (U+\(Self.hex(scalar.value)))")
        }
        self.rawValue = rawValue
    }

    /// Decodes and validates an identifier.
    public init(from decoder: any Decoder) throws {
        let raw = try decoder.singleValueContainer().decode(String.self)
        do { try self.init(raw) } catch {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "\(error)"))
        }
    }

    /// Encodes the raw value as a single string.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }

    /// The raw value.
    public var description: String { rawValue }

    /// Equal when the raw values have the same UTF-8 bytes.
    public static func == (lhs: Self, rhs: Self) -> Bool { lhs.rawValue.utf8.elementsEqual(rhs.rawValue.utf8) }

    /// Hashes the raw value's UTF-8 bytes, consistent with ``==(_:_:)``.
    public func hash(into hasher: inout Hasher) {
        var copy = rawValue
        copy.withUTF8 { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
        hasher.combine(rawValue.utf8.count)
    }

    /// Orders by the raw values' UTF-8 bytes (the order SQLite's binary collation and storage IDs use).
    public static func < (lhs: Self, rhs: Self) -> Bool {
        lhs.rawValue.utf8.lexicographicallyPrecedes(rhs.rawValue.utf8)
    }

    private static func hex(_ value: UInt32) -> String {
        let digits = String(value, radix: 16, uppercase: true)
        return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }
}

/// The kind of ``TenantID``: at most 128 bytes.
public enum TenantKind: IdentifierKind {
    /// `"tenant ID"`.
    public static let name = "tenant ID"
    /// 128.
    public static let maxLength = 128
}

/// The kind of ``PrincipalID``: at most 256 bytes.
public enum PrincipalKind: IdentifierKind {
    /// `"principal ID"`.
    public static let name = "principal ID"
    /// 256.
    public static let maxLength = 256
}

/// The kind of ``ProviderID``: at most 64 bytes.
public enum ProviderKind: IdentifierKind {
    /// `"provider ID"`.
    public static let name = "provider ID"
    /// 64.
    public static let maxLength = 64
}

/// Identifies a tenant: one customer organisation of the application embedding the broker.
public typealias TenantID = Identifier<TenantKind>
/// Identifies a principal inside a tenant: a user, a service account, or the tenant itself.
public typealias PrincipalID = Identifier<PrincipalKind>
/// Identifies a provider registration: one client at one authorization server.
public typealias ProviderID = Identifier<ProviderKind>
