internal import Crypto
public import Foundation

/// A pending authorization-code flow: what the callback needs to finish it, persisted in the store so the
/// callback can land in another process.
///
/// Sessions are single-use: ``BrokerStore/takeSession(id:)`` removes the session it returns. A session is found
/// by ``id``, the hex SHA-256 of its provider and its `state`, so the store never indexes by the raw state, the
/// final comparison of the callback's state runs in constant time, and a broker for another provider, which looks
/// the state up under its own provider, can never find (and so never consume) the session.
public struct AuthorizationSession: Sendable, Hashable, Codable, CustomStringConvertible {
    /// The lookup identifier: ``id(forState:provider:)`` of ``state`` and the provider of ``key``.
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

    /// Creates a session; ``id`` is derived from `state` and `key.provider`.
    public init(
        state: Secret, codeVerifier: Secret, redirectURI: String, key: StoreKey, createdAt: Date, expiresAt: Date
    ) {
        self.id = Self.id(forState: state.revealedValue, provider: key.provider)
        self.state = state
        self.codeVerifier = codeVerifier
        self.redirectURI = redirectURI
        self.key = key
        self.createdAt = createdAt
        self.expiresAt = expiresAt
    }

    /// The session identifier for a `state` value at `provider`: lower-case hex SHA-256 of the provider's UTF-8
    /// bytes, a NUL byte (which no provider ID contains), and the state's UTF-8 bytes.
    /// - Parameters:
    ///   - state: The `state` sent to (and returned by) the authorization endpoint.
    ///   - provider: The provider the session was started with.
    /// - Returns: 64 lower-case hex digits.
    public static func id(forState state: String, provider: ProviderID) -> String {
        var bytes = Array(provider.rawValue.utf8)
        bytes.append(0)
        bytes += state.utf8
        return Hex.encode(SHA256.hash(data: bytes))
    }

    /// Whether the session has expired at `instant`.
    public func isExpired(at instant: Date) -> Bool { instant >= expiresAt }

    /// A summary with no secrets.
    public var description: String {
        "AuthorizationSession(id: \(id.prefix(12))…, key: \(key), expiresAt: \(expiresAt))"
    }
}
