internal import Crypto

/// Names one stored token: a provider registration, a tenant, a principal and a scope set.
///
/// The key is built once and is cheap to use afterwards: its ``storageID``, ``scopeFingerprint`` and a hash seed
/// are computed at creation, so hashing a key on the hot path combines one integer instead of four strings, and
/// comparing two copies of one key is a pointer comparison.
///
/// The ``storageID`` is stable across processes, machines and releases: it is built from the components'
/// UTF-8 bytes and SHA-256, never from Swift's per-process seeded `Hasher`.
public struct StoreKey: Hashable, Sendable, Codable, CustomStringConvertible, CustomDebugStringConvertible {
    private final class Storage: Sendable {
        let provider: ProviderID
        let tenant: TenantID
        let principal: PrincipalID
        let scopes: ScopeSet
        let scopeFingerprint: String
        let storageID: String
        let hashSeed: UInt64

        init(provider: ProviderID, tenant: TenantID, principal: PrincipalID, scopes: ScopeSet) {
            self.provider = provider
            self.tenant = tenant
            self.principal = principal
            self.scopes = scopes
            scopeFingerprint = Hex.encode(SHA256.hash(data: Array(scopes.normalized.utf8)))
            storageID = [
                StoreKey.escapedComponent(provider.rawValue), StoreKey.escapedComponent(tenant.rawValue),
                StoreKey.escapedComponent(principal.rawValue), scopeFingerprint,
            ].joined(separator: ":")
            let digest = Array(SHA256.hash(data: Array(storageID.utf8)))
            hashSeed = digest.prefix(8).reduce(0) { $0 << 8 | UInt64($1) }
        }
    }

    private let storage: Storage

    /// Creates a key.
    public init(provider: ProviderID, tenant: TenantID, principal: PrincipalID, scopes: ScopeSet = .empty) {
        storage = Storage(provider: provider, tenant: tenant, principal: principal, scopes: scopes)
    }

    /// Creates a key from raw strings, validating each component.
    /// - Throws: ``BrokerError`` (``BrokerError/Code/invalidInput``) when a component is invalid.
    public init(provider: String, tenant: String, principal: String, scopes: [String] = []) throws {
        self.init(
            provider: try ProviderID(provider), tenant: try TenantID(tenant), principal: try PrincipalID(principal),
            scopes: try ScopeSet(scopes))
    }

    /// The provider registration.
    public var provider: ProviderID { storage.provider }
    /// The tenant.
    public var tenant: TenantID { storage.tenant }
    /// The principal.
    public var principal: PrincipalID { storage.principal }
    /// The requested scopes.
    public var scopes: ScopeSet { storage.scopes }

    /// Lower-case hex SHA-256 of ``ScopeSet/normalized``: 64 characters, stable across releases.
    public var scopeFingerprint: String { storage.scopeFingerprint }

    /// A stable, printable-ASCII string naming this key in a store: `provider:tenant:principal:fingerprint`, each
    /// component as ``escapedComponent(_:)`` writes it.
    ///
    /// Distinct keys always have distinct storage IDs, and two storage IDs are equal exactly when their bytes are:
    /// the escaping works on UTF-8 bytes, not on `Character`s, so identifiers that Swift's `String` would call
    /// equal (`jos\u{E9}` and `jose\u{301}`, canonically equivalent) get different IDs, and a `:` followed by a
    /// combining mark is escaped like any other `:`. Being ASCII, the ID compares the same everywhere: in a Swift
    /// dictionary, in SQLite's binary collation, in Redis.
    public var storageID: String { storage.storageID }

    /// `provider/tenant/principal/<first 12 hex digits of the scope fingerprint>`: enough to find a key in logs,
    /// no secrets. Used by errors and log metadata.
    public var redactedDescription: String {
        "\(provider)/\(tenant)/\(principal)/\(scopeFingerprint.prefix(12))"
    }

    /// The redacted description.
    public var description: String { redactedDescription }
    /// The components, with the scopes spelled out.
    public var debugDescription: String {
        "StoreKey(provider: \(provider), tenant: \(tenant), principal: \(principal), scopes: [\(scopes)])"
    }

    /// Keys are equal when their storage IDs have the same bytes, that is when provider, tenant and principal are
    /// byte-for-byte the same and the scope sets are equal (identical storage short-circuits).
    public static func == (lhs: StoreKey, rhs: StoreKey) -> Bool {
        lhs.storage === rhs.storage
            || (lhs.storage.hashSeed == rhs.storage.hashSeed
                && lhs.storage.storageID.utf8.elementsEqual(rhs.storage.storageID.utf8))
    }

    /// The 64-bit hash computed once at creation (the first 8 bytes of SHA-256 of ``storageID``).
    var precomputedHash: UInt64 { storage.hashSeed }

    /// Combines the precomputed 64-bit seed: one integer, whatever the lengths of the components.
    public func hash(into hasher: inout Hasher) { hasher.combine(storage.hashSeed) }

    private enum CodingKeys: String, CodingKey { case provider, tenant, principal, scopes }

    /// Decodes the four components and validates them.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            provider: try container.decode(ProviderID.self, forKey: .provider),
            tenant: try container.decode(TenantID.self, forKey: .tenant),
            principal: try container.decode(PrincipalID.self, forKey: .principal),
            scopes: try container.decode(ScopeSet.self, forKey: .scopes))
    }

    /// Encodes the four components.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(provider, forKey: .provider)
        try container.encode(tenant, forKey: .tenant)
        try container.encode(principal, forKey: .principal)
        try container.encode(scopes, forKey: .scopes)
    }

    /// One component (provider, tenant or principal) as it appears in a ``storageID``.
    ///
    /// Works on the component's UTF-8 bytes: printable ASCII (`0x20`–`0x7E`) stays as it is, except `%` and `:`;
    /// those two, every byte of a non-ASCII character and any control byte become `%XX` (upper-case hex). The
    /// result is printable ASCII, the mapping is injective (it can be undone byte for byte), and an all-ASCII
    /// component without `%` or `:` is unchanged, so the storage IDs of ASCII keys are those of every earlier
    /// release.
    /// - Parameter component: An identifier's raw value.
    /// - Returns: The escaped form.
    public static func escapedComponent(_ component: String) -> String {
        func isKept(_ byte: UInt8) -> Bool {
            byte >= 0x20 && byte < 0x7F && byte != UInt8(ascii: "%") && byte != UInt8(ascii: ":")
        }
        if component.utf8.allSatisfy(isKept) { return component }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(component.utf8.count * 3)
        for byte in component.utf8 {
            if isKept(byte) {
                bytes.append(byte)
            } else {
                bytes.append(UInt8(ascii: "%"))
                bytes.append(Hex.upperDigit(byte >> 4))
                bytes.append(Hex.upperDigit(byte & 0x0F))
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

extension StoreKey {
    /// The storage ID releases before byte-exact escaping wrote: `%` and `:` escaped per `Character`, every other
    /// character kept as it is. Equal to ``storageID`` for every key whose components are ASCII; stores use it only
    /// to find and move records an earlier release wrote for a key with non-ASCII components.
    package var legacyStorageID: String {
        [
            Self.legacyEscapedComponent(provider.rawValue), Self.legacyEscapedComponent(tenant.rawValue),
            Self.legacyEscapedComponent(principal.rawValue), scopeFingerprint,
        ].joined(separator: ":")
    }

    /// One component as ``legacyStorageID`` writes it.
    package static func legacyEscapedComponent(_ component: String) -> String {
        guard component.contains(where: { $0 == "%" || $0 == ":" }) else { return component }
        var result = ""
        for character in component {
            switch character {
            case "%": result += "%25"
            case ":": result += "%3A"
            default: result.append(character)
            }
        }
        return result
    }

    /// Whether ``legacyStorageID`` differs from ``storageID`` (some component is not ASCII).
    package var hasLegacyStorageID: Bool {
        !(provider.rawValue.utf8.allSatisfy { $0 < 0x80 } && tenant.rawValue.utf8.allSatisfy { $0 < 0x80 }
            && principal.rawValue.utf8.allSatisfy { $0 < 0x80 })
    }
}
