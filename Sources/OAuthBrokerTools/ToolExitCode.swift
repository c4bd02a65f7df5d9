public import OAuthBroker

/// The exit status of the `oauth-broker` command line, derived from what went wrong.
///
/// | status | meaning |
/// |---|---|
/// | 0 | success |
/// | 1 | anything else (a malformed provider response, a TLS failure, a corrupt store, …) |
/// | 2 | usage or configuration: a bad flag, provider file, store URL or key file; a record sealed under a key id the key file lacks; a key outside a tenant-scoped view; `invalid_client`, `unauthorized_client`, `unsupported_grant_type`, `invalid_scope` |
/// | 3 | re-authorization required: nothing usable stored, `invalid_grant`, a revoked record, an unknown, forged, expired or used `state`, `access_denied`, an authorization response from the wrong issuer (RFC 9207) or on the wrong redirect URI |
/// | 4 | the provider or the store is temporarily unavailable (network, 5xx, 429, a dead Redis) after bounded retries |
public struct ToolExitCode: Hashable, Sendable, CustomStringConvertible {
    /// The process exit status.
    public let rawValue: Int32

    private init(_ rawValue: Int32) { self.rawValue = rawValue }

    /// 0: the command did what it was asked.
    public static let success = ToolExitCode(0)
    /// 1: a failure that fits no other status.
    public static let failure = ToolExitCode(1)
    /// 2: a usage or configuration error; running the command again unchanged will fail again.
    public static let usage = ToolExitCode(2)
    /// 3: a user must authorize again (`oauth-broker authorize`).
    public static let reauthorizationRequired = ToolExitCode(3)
    /// 4: the provider or the store is temporarily unavailable; running the command later may succeed.
    public static let unavailable = ToolExitCode(4)

    /// The status for a broker error.
    ///
    /// - Parameter error: The error that ended the command.
    public init(for error: BrokerError) {
        switch error.code {
        case .invalidInput, .invalidConfiguration, .clientRejected, .grantNotSupported, .keyOutsideScope,
            .sealingKeyMissing:
            self = .usage
        case .providerRejected:
            let configurationErrors: Set<OAuthErrorCode> = [
                .unsupportedGrantType, .invalidScope, .invalidClient, .unauthorizedClient,
            ]
            self = error.oauthError.map(configurationErrors.contains) == true ? .usage : .failure
        case .invalidGrant, .reauthorizationRequired, .tokenRevoked, .recordDeleted, .invalidAuthorizationState,
            .authorizationSessionExpired:
            self = .reauthorizationRequired
        case .authorizationDenied:
            self = Self.status(forAuthorizationError: error.oauthError)
        default:
            self = error.isTransient ? .unavailable : .failure
        }
    }

    /// The status for an error returned to the redirect URI by the authorization endpoint (RFC 6749 §4.1.2.1).
    ///
    /// `temporarily_unavailable` and `server_error` are transient (4); `invalid_request`, `unauthorized_client`,
    /// `unsupported_response_type` and `invalid_scope` are configuration errors (2); `access_denied` and every
    /// other code (`consent_required`, `login_required`, …) need the user again (3).
    private static func status(forAuthorizationError code: OAuthErrorCode?) -> ToolExitCode {
        switch code {
        case .temporarilyUnavailable?, .serverError?:
            return .unavailable
        case .invalidRequest?, .unauthorizedClient?, .invalidScope?,
            OAuthErrorCode(rawValue: "unsupported_response_type")?:
            return .usage
        default:
            return .reauthorizationRequired
        }
    }

    /// The number.
    public var description: String { String(rawValue) }
}
