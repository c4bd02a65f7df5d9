internal import Crypto
public import Foundation

/// A pending authorization-code flow: what the callback needs to finish it, persisted in the store so the
/// callback can land in another process.
///
/// Sessions are single-use: ``BrokerStore/takeSession(id:)`` removes the session it returns. A session is found
/// by ``id``, the hex SHA-256 of its `state`, so the store never indexes by the raw state and the final
/// comparison of the callback's state runs in constant time.
public struct AuthorizationSession: Sendable, Hashable, Codable, CustomStringConvertible {
    /// The lookup identifier: lower-case hex SHA-256 of ``state``.
    public let id: String
    /// The `state` sent to the authorization endpoint.
    public let state: Secret
    /// The PKCE code verifier (RFC 7636).
    public let codeVerifier: Secret
    /// The redirect URI sent to the authorization endpoint; the exchange sends it again (RFC 6749 §4.1.3).
    public let redirectURI: String
    /// The key the resulting token will be stored under.
    public let key: StoreKey
    /// When the session was created.
    public let createdAt: Date
    /// When the session stops being accepted.
    public let expiresAt: Date

    /// Creates a session; ``id`` is derived from `state`.
    public init(
        state: Secret, codeVerifier: Secret, redirectURI: String, key: StoreKey, createdAt: Date, expiresAt: Date
    ) {
        self.id = Self.id(forState: state.revealedValue)
        self.state = state
        self.codeVerifier = codeVerifier
        self.redirectURI = redirectURI
        self.key = key
        self.createdAt = createdAt
        self.expiresAt = expiresAt
    }

    /// The session identifier for a `state` value: lower-case hex SHA-256 of its UTF-8 bytes.
    public static func id(forState state: String) -> String {
        Hex.encode(SHA256.hash(data: Array(state.utf8)))
    }

    /// Whether the session has expired at `instant`.
    public func isExpired(at instant: Date) -> Bool { instant >= expiresAt }

    /// A summary with no secrets.
    public var description: String {
        "AuthorizationSession(id: \(id.prefix(12))…, key: \(key), expiresAt: \(expiresAt))"
    }
}
