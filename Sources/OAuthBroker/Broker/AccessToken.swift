public import Foundation

/// What a caller gets from the broker: an access token ready to put in an `Authorization` header.
///
/// Cheap to copy (one reference). Printing it never shows the token.
public struct AccessToken: Sendable, Hashable, CustomStringConvertible {
    private final class Storage: Sendable {
        let value: Secret
        let tokenType: String
        let expiresAt: Date?
        let scopes: ScopeSet
        let version: UInt64
        let key: StoreKey

        init(value: Secret, tokenType: String, expiresAt: Date?, scopes: ScopeSet, version: UInt64, key: StoreKey) {
            self.value = value
            self.tokenType = tokenType
            self.expiresAt = expiresAt
            self.scopes = scopes
            self.version = version
            self.key = key
        }
    }

    private let storage: Storage

    /// Creates a token for `key` from a stored record.
    public init(record: TokenRecord, key: StoreKey) {
        storage = Storage(
            value: record.accessToken, tokenType: record.tokenType, expiresAt: record.expiresAt,
            scopes: record.scopes, version: record.version, key: key)
    }

    /// The access token.
    public var value: Secret { storage.value }
    /// The token type, `Bearer` for nearly every provider.
    public var tokenType: String { storage.tokenType }
    /// When the token expires, if known.
    public var expiresAt: Date? { storage.expiresAt }
    /// The scopes the provider granted.
    public var scopes: ScopeSet { storage.scopes }
    /// The version of the stored record the token came from.
    public var version: UInt64 { storage.version }
    /// The key the token is stored under.
    public var key: StoreKey { storage.key }

    /// `"<type> <token>"`, for an `Authorization` header. Contains the secret: send it, never log it.
    public func authorizationHeaderValue() -> String { "\(tokenType) \(value.revealedValue)" }

    /// Type, key, version and expiry; never the token.
    public var description: String {
        "AccessToken(\(tokenType), key: \(key), version: \(version), expiresAt: "
            + "\(expiresAt.map { String(describing: $0) } ?? "none"))"
    }

    /// Equal when the token values, types, versions and keys are equal.
    public static func == (lhs: AccessToken, rhs: AccessToken) -> Bool {
        lhs.storage === rhs.storage
            || (lhs.value == rhs.value && lhs.tokenType == rhs.tokenType && lhs.version == rhs.version
                && lhs.key == rhs.key)
    }

    /// Hashes the key and version.
    public func hash(into hasher: inout Hasher) {
        hasher.combine(key)
        hasher.combine(version)
    }
}
