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
                StoreKey.escape(provider.rawValue), StoreKey.escape(tenant.rawValue),
                StoreKey.escape(principal.rawValue), scopeFingerprint,
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

    /// A stable string naming this key in a store: `provider:tenant:principal:fingerprint`, where `%` and `:`
    /// inside a component are percent-encoded (`%25`, `%3A`) so the form is unambiguous.
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

    /// Keys are equal when their storage IDs are equal (identical storage short-circuits).
    public static func == (lhs: StoreKey, rhs: StoreKey) -> Bool {
        lhs.storage === rhs.storage
            || (lhs.storage.hashSeed == rhs.storage.hashSeed && lhs.storage.storageID == rhs.storage.storageID)
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

    private static func escape(_ component: String) -> String {
        guard component.contains(where: { $0 == "%" || $0 == ":" }) else { return component }
        return component.replacingOccurrences("%", "%25").replacingOccurrences(":", "%3A")
    }
}

extension String {
    fileprivate func replacingOccurrences(_ target: Character, _ replacement: String) -> String {
        var result = ""
        result.reserveCapacity(utf8.count)
        for character in self {
            if character == target { result += replacement } else { result.append(character) }
        }
        return result
    }
}
