public import OAuthBroker

extension MockAuthorizationServer {
    /// How a ``MockAuthorizationServer`` behaves: its port, token lifetimes, refresh-token rotation and reuse
    /// detection, latency, and what the authorization endpoint decides.
    ///
    /// Create one with ``init()`` and change the properties you need:
    /// ```swift
    /// var configuration = MockAuthorizationServer.Configuration()
    /// configuration.accessTokenLifetime = .seconds(60)
    /// configuration.rotatesRefreshTokens = true
    /// let server = try await MockAuthorizationServer.start(configuration: configuration)
    /// ```
    public struct Configuration: Sendable {
        /// The TCP port to listen on (on `127.0.0.1` only); `0` (the default) picks a free ephemeral port.
        public var port: Int = 0

        /// The lifetime of issued access tokens, sent as `expires_in` (rounded up to whole seconds).
        /// Defaults to one hour.
        public var accessTokenLifetime: Duration = .seconds(3600)

        /// The lifetime of issued refresh tokens, or `nil` (the default) for refresh tokens that never expire.
        public var refreshTokenLifetime: Duration? = nil

        /// How long an authorization code may be exchanged after it was issued. Defaults to 60 seconds.
        public var authorizationCodeLifetime: Duration = .seconds(60)

        /// Whether each successful `refresh_token` grant retires the presented refresh token and issues a new one
        /// (RFC 9700 §4.14.2). Defaults to `true`.
        ///
        /// Without rotation the refresh response carries no `refresh_token` field, and the presented refresh token
        /// stays valid (RFC 6749 §6 allows both).
        public var rotatesRefreshTokens: Bool = true

        /// Whether presenting an already-rotated refresh token revokes its whole grant family (every access and
        /// refresh token descended from the same authorization), as RFC 9700 §4.14.2 recommends; likewise a
        /// replayed authorization code revokes the tokens issued for it (RFC 6749 §4.1.2). Defaults to `true`.
        ///
        /// Either way the replayed token or code is answered with `invalid_grant`.
        public var revokesFamilyOnReuse: Bool = true

        /// A delay added before every request is processed and answered. Defaults to zero. Real time, not
        /// ``clock``; change it while the server runs with ``MockAuthorizationServer/latency``.
        public var latency: Duration = .zero

        /// Whether the `client_credentials` grant also issues a refresh token. Defaults to `false`, as RFC 6749
        /// §4.4.3 recommends.
        public var issuesRefreshTokenForClientCredentials: Bool = false

        /// Whether the `authorization_code` grant issues a refresh token. Defaults to `true`.
        public var issuesRefreshTokenForAuthorizationCode: Bool = true

        /// Whether the authorization endpoint requires a PKCE `code_challenge` (S256 only). Defaults to `true`.
        ///
        /// Without a challenge in the authorization request, a `code_verifier` in the token request is rejected
        /// (RFC 9700 §2.1.1: a downgrade).
        public var requiresPKCE: Bool = true

        /// What the authorization endpoint answers. Defaults to ``AuthorizationDecision/approve``. Change it while
        /// the server runs with ``MockAuthorizationServer/authorizationDecision``.
        public var authorizationDecision: AuthorizationDecision = .approve

        /// The issuer identifier the authorization endpoint sends as `iss` in every authorization response,
        /// approvals and errors alike (RFC 9207), or `nil` (the default) to send none.
        public var authorizationResponseIssuer: String? = nil

        /// The `sub` of grants made at the authorization endpoint when the request carries no `login_hint`.
        /// Defaults to `"mock-user"`. (Client-credentials grants use the client ID as subject.)
        public var defaultSubject: String = "mock-user"

        /// The scopes granted when a request names none. Defaults to none.
        public var defaultScopes: [String] = []

        /// The scopes the server knows, or `nil` (the default) to accept any scope. Requests for other scopes
        /// are answered with `invalid_scope`.
        public var supportedScopes: Set<String>? = nil

        /// The character that separates scopes in requests and responses. A space by RFC 6749 §3.3; a comma for
        /// some providers.
        public var scopeDelimiter: Character = " "

        /// The largest request body accepted; larger requests are answered with 413. Defaults to 64 KiB.
        public var maximumRequestBodySize: Int = 64 * 1024

        /// The clock that decides token, code and refresh-token expiry and the `exp`/`iat` of introspection.
        /// Defaults to the system clock; pass `TestClock.brokerClock` to control expiry. Only `now` is read.
        public var clock: BrokerClock = .system

        /// Creates the default configuration.
        public init() {}

        /// Checks the values ``MockAuthorizationServer/start(configuration:)`` relies on.
        func validate() throws {
            func fail(_ message: String) -> BrokerError { BrokerError(.invalidConfiguration, message) }
            guard (0...65535).contains(port) else { throw fail("port must be 0...65535") }
            guard accessTokenLifetime > .zero else { throw fail("the access-token lifetime must be positive") }
            guard authorizationCodeLifetime > .zero else { throw fail("the code lifetime must be positive") }
            if let refreshTokenLifetime, refreshTokenLifetime <= .zero {
                throw fail("the refresh-token lifetime must be positive")
            }
            guard latency >= .zero else { throw fail("latency must not be negative") }
            guard maximumRequestBodySize > 0 else { throw fail("the maximum request body size must be positive") }
            guard scopeDelimiter != "\"", scopeDelimiter != "\\", !scopeDelimiter.isLetter, !scopeDelimiter.isNumber
            else { throw fail("the scope delimiter \(scopeDelimiter) is not usable") }
        }
    }

    /// What the authorization endpoint answers to a valid request: approve (redirect with a `code`) or deny
    /// (redirect with an `error`), as if the user had clicked one of the two buttons.
    public struct AuthorizationDecision: Hashable, Sendable, CustomStringConvertible {
        /// `nil` approves; otherwise the error to send.
        let error: OAuthErrorCode?
        /// The `error_description` to send with ``error``.
        let errorDescription: String?

        /// Approve: redirect to the client with `code` and `state`.
        public static let approve = AuthorizationDecision(error: nil, errorDescription: nil)

        /// Deny: redirect to the client with `error=access_denied` and `state` (RFC 6749 §4.1.2.1).
        public static let deny = AuthorizationDecision(
            error: .accessDenied, errorDescription: "the resource owner denied the request")

        /// Fail with another authorization error, for example `consent_required` or `temporarily_unavailable`.
        ///
        /// - Parameters:
        ///   - error: The `error` to send.
        ///   - description: The `error_description` to send, if any.
        /// - Returns: The decision.
        public static func fail(with error: OAuthErrorCode, description: String? = nil) -> AuthorizationDecision {
            AuthorizationDecision(error: error, errorDescription: description)
        }

        /// Whether this decision approves.
        public var isApproval: Bool { error == nil }

        /// `approve`, or `deny(<error>)`.
        public var description: String { error.map { "deny(\($0.rawValue))" } ?? "approve" }
    }
}
