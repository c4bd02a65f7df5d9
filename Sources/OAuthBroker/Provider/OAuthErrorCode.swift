/// An RFC 6749 §5.2 / §4.1.2.1 `error` value.
///
/// Providers invent codes, so this is an open set: any string is representable, and the well-known values are
/// static members.
public struct OAuthErrorCode: RawRepresentable, Hashable, Sendable, Codable, CustomStringConvertible {
    /// The code as the provider sent it.
    public let rawValue: String

    /// Wraps a code string.
    public init(rawValue: String) { self.rawValue = rawValue }

    /// `invalid_request`.
    public static let invalidRequest = OAuthErrorCode(rawValue: "invalid_request")
    /// `invalid_client`.
    public static let invalidClient = OAuthErrorCode(rawValue: "invalid_client")
    /// `invalid_grant`: the grant (code or refresh token) is invalid, expired, revoked or reused.
    public static let invalidGrant = OAuthErrorCode(rawValue: "invalid_grant")
    /// `unauthorized_client`.
    public static let unauthorizedClient = OAuthErrorCode(rawValue: "unauthorized_client")
    /// `unsupported_grant_type`.
    public static let unsupportedGrantType = OAuthErrorCode(rawValue: "unsupported_grant_type")
    /// `invalid_scope`.
    public static let invalidScope = OAuthErrorCode(rawValue: "invalid_scope")
    /// `access_denied` (authorization endpoint).
    public static let accessDenied = OAuthErrorCode(rawValue: "access_denied")
    /// `server_error` (authorization endpoint).
    public static let serverError = OAuthErrorCode(rawValue: "server_error")
    /// `temporarily_unavailable` (authorization endpoint; some providers also use it at the token endpoint).
    public static let temporarilyUnavailable = OAuthErrorCode(rawValue: "temporarily_unavailable")
    /// `slow_down` (RFC 8628; some providers use it for rate limits).
    public static let slowDown = OAuthErrorCode(rawValue: "slow_down")
    /// `unsupported_token_type` (RFC 7009).
    public static let unsupportedTokenType = OAuthErrorCode(rawValue: "unsupported_token_type")

    /// The raw value.
    public var description: String { rawValue }
}
