public import Foundation

/// Everything the broker stores for one ``StoreKey``.
///
/// Records are values; stores hand out copies. The ``version`` is the store's compare-and-swap token: a store
/// writes a record with `version == expected + 1` when a swap succeeds (see ``BrokerStore``).
///
/// Printing a record (`description`, `dump`) never shows a token: every token is a ``Secret``, and
/// ``extraFields`` are listed by name only.
public struct TokenRecord: Sendable, Hashable, Codable, CustomStringConvertible {
    /// The lifecycle state of a record.
    public struct Status: RawRepresentable, Hashable, Sendable, Codable, CustomStringConvertible {
        /// The stored spelling.
        public let rawValue: String
        /// Wraps a stored spelling. Unknown values are kept, and treated as unusable by the broker.
        public init(rawValue: String) { self.rawValue = rawValue }

        /// Usable: the broker serves and refreshes it.
        public static let active = Status(rawValue: "active")
        /// Revoked by the application; never sent to the provider again.
        public static let revoked = Status(rawValue: "revoked")
        /// The grant died (`invalid_grant`); a user must authorize again.
        public static let needsReauthorization = Status(rawValue: "needs_reauthorization")

        /// The raw value.
        public var description: String { rawValue }
    }

    /// The access token.
    public var accessToken: Secret
    /// The refresh token, if the provider issued one.
    public var refreshToken: Secret?
    /// The token type, normalized so `bearer` reads `Bearer`.
    public var tokenType: String
    /// The scopes the provider granted (the requested ones when the response omitted `scope`).
    public var scopes: ScopeSet
    /// When the token was issued (when the response arrived).
    public var issuedAt: Date
    /// When the access token expires, or `nil` when neither the provider nor the configuration says.
    public var expiresAt: Date?
    /// The OpenID Connect ID token, if any.
    public var idToken: Secret?
    /// Response fields RFC 6749 does not define, kept verbatim.
    public var extraFields: [String: JSONValue]
    /// The compare-and-swap version; see ``BrokerStore``.
    public var version: UInt64
    /// The lifecycle state.
    public var status: Status

    /// Creates a record.
    public init(
        accessToken: Secret,
        refreshToken: Secret? = nil,
        tokenType: String = "Bearer",
        scopes: ScopeSet = .empty,
        issuedAt: Date,
        expiresAt: Date?,
        idToken: Secret? = nil,
        extraFields: [String: JSONValue] = [:],
        version: UInt64 = 1,
        status: Status = .active
    ) {
        self.accessToken = accessToken
        self.refreshToken = refreshToken
        self.tokenType = tokenType
        self.scopes = scopes
        self.issuedAt = issuedAt
        self.expiresAt = expiresAt
        self.idToken = idToken
        self.extraFields = extraFields
        self.version = version
        self.status = status
    }

    /// Whether the access token has expired at `instant`.
    public func isExpired(at instant: Date) -> Bool {
        guard let expiresAt else { return false }
        return instant >= expiresAt
    }

    /// Whether the record may be served or refreshed (status ``Status/active``).
    public var isActive: Bool { status == .active }

    /// A summary with no secrets: type, status, version, scopes, expiry, which tokens are present.
    public var description: String {
        var text = "TokenRecord(version: \(version), status: \(status), type: \(tokenType), scopes: [\(scopes)]"
        text += ", expiresAt: \(expiresAt.map { String(describing: $0) } ?? "none")"
        text += ", refreshToken: \(refreshToken == nil ? "absent" : "<redacted>")"
        if idToken != nil { text += ", idToken: <redacted>" }
        if !extraFields.isEmpty { text += ", extraFields: \(extraFields.keys.sorted())" }
        return text + ")"
    }
}

extension TokenRecord: CustomReflectable {
    /// Reflection shows the same redacted summary as ``description``; no field values.
    public var customMirror: Mirror {
        Mirror(
            self,
            children: [
                "version": version, "status": status.rawValue, "tokenType": tokenType, "scopes": scopes.normalized,
                "expiresAt": expiresAt as Any, "accessToken": accessToken, "refreshToken": refreshToken as Any,
            ], displayStyle: .struct)
    }
}
