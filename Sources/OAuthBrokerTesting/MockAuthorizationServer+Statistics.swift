public import Foundation
public import OAuthBroker

extension MockAuthorizationServer {
    /// A snapshot of what a ``MockAuthorizationServer`` has seen, from ``MockAuthorizationServer/statistics``.
    ///
    /// Requests are counted when their last byte arrives, before latency, faults and client authentication, so a
    /// request that was answered with a fault or rejected still counts.
    public struct Statistics: Hashable, Sendable {
        /// HTTP requests per endpoint (requests to unknown paths are not counted).
        public internal(set) var requestsByEndpoint: [Endpoint: Int] = [:]
        /// Token-endpoint requests per `grant_type` value as sent (a request without one counts under `""`).
        public internal(set) var requestsByGrantType: [String: Int] = [:]
        /// Requests per presented client ID (from `Authorization: Basic` or the `client_id` parameter), whether or
        /// not the client authenticated. Authorization requests count under their `client_id` too.
        public internal(set) var requestsByClientID: [String: Int] = [:]
        /// Requests per tenant label of the presented client (clients registered without a tenant are not
        /// counted here).
        public internal(set) var requestsByTenant: [String: Int] = [:]
        /// TCP connections accepted. Fewer connections than requests means the client reused connections.
        public internal(set) var connectionsAccepted = 0
        /// Access tokens issued (by any grant or by ``MockAuthorizationServer/issueGrant(clientID:scopes:subject:)``).
        public internal(set) var accessTokensIssued = 0
        /// Successful `refresh_token` grants: requests for which the server issued new tokens, whether or not the
        /// response reached the client (under ``Fault/badGatewayAfterProcessing`` or
        /// ``Fault/dropConnectionAfterProcessing`` it did not). Compare with `requests(grant: .refreshToken)`, which
        /// also counts requests that were refused or answered by a fault without being processed.
        public internal(set) var refreshGrantsSucceeded = 0
        /// Refresh-token rotations: successful `refresh_token` grants that retired the presented refresh token.
        /// Equal to ``refreshGrantsSucceeded`` while ``Configuration/rotatesRefreshTokens`` is on, zero otherwise.
        public internal(set) var refreshTokenRotations = 0
        /// Presentations of an already-rotated refresh token of a family that was not yet revoked, each answered
        /// with `invalid_grant`, whether or not ``Configuration/revokesFamilyOnReuse`` then revoked the family.
        public internal(set) var refreshTokenReuses = 0
        /// Grant families revoked because an already-rotated refresh token was presented (only while
        /// ``Configuration/revokesFamilyOnReuse`` is on).
        public internal(set) var familiesRevokedByReuseDetection = 0
        /// Successful `authorization_code` grants: codes exchanged for tokens, whether or not the response reached
        /// the client.
        public internal(set) var authorizationCodesExchanged = 0
        /// Authorization codes presented a second time.
        public internal(set) var authorizationCodeReplays = 0
        /// Tokens revoked through the revocation endpoint (unknown tokens are not counted).
        public internal(set) var revocations = 0
        /// Scripted faults consumed.
        public internal(set) var faultsInjected = 0

        /// Creates empty statistics.
        public init() {}

        /// The number of requests to `endpoint`.
        ///
        /// - Parameter endpoint: The endpoint.
        /// - Returns: The count.
        public func requests(to endpoint: Endpoint) -> Int { requestsByEndpoint[endpoint, default: 0] }

        /// The number of token requests with `grant_type` equal to `grant`.
        ///
        /// - Parameter grant: The grant, for example ``ProviderDescriptor/Grant/refreshToken``.
        /// - Returns: The count.
        public func requests(grant: ProviderDescriptor.Grant) -> Int { requestsByGrantType[grant.rawValue, default: 0] }

        /// The number of requests that presented `clientID`.
        ///
        /// - Parameter clientID: The client ID.
        /// - Returns: The count.
        public func requests(clientID: String) -> Int { requestsByClientID[clientID, default: 0] }

        /// The number of requests to all endpoints.
        public var totalRequests: Int { requestsByEndpoint.values.reduce(0, +) }
    }

    /// Tokens issued directly with ``MockAuthorizationServer/issueGrant(clientID:scopes:subject:)``, as if an
    /// authorization-code exchange had just happened.
    public struct IssuedGrant: Sendable, CustomStringConvertible {
        /// The access token.
        public let accessToken: Secret
        /// The refresh token.
        public let refreshToken: Secret
        /// The access token's lifetime (the configured ``Configuration/accessTokenLifetime``, in whole seconds).
        public let expiresIn: Duration
        /// When the access token expires, by the server's clock.
        public let expiresAt: Date
        /// The granted scopes.
        public let scopes: ScopeSet

        /// The lifetime and scopes; never the tokens.
        public var description: String { "IssuedGrant(expiresIn: \(expiresIn), scopes: \(scopes))" }
    }
}
