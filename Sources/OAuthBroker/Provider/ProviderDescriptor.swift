public import Foundation

/// Everything the broker needs to know about one client registration at one authorization server.
///
/// Built and validated once (``init(id:tokenEndpoint:clientID:clientSecret:clientAuthentication:grants:authorizationEndpoint:revocationEndpoint:introspectionEndpoint:scopeDelimiter:requiresPKCE:extraTokenParameters:allowsInsecureLoopback:issuer:requiresAuthorizationResponseIssuer:strategy:)``):
/// every endpoint must be `https`, unless ``allowsInsecureLoopback`` is set and the host is a loopback address
/// (`127.0.0.1`, `localhost`, `::1`).
public struct ProviderDescriptor: Sendable, CustomStringConvertible {
    /// How the client authenticates at the token endpoint (RFC 6749 §2.3).
    public struct ClientAuthentication: Hashable, Sendable, CustomStringConvertible {
        fileprivate enum Value: String, Sendable {
            case basic = "client_secret_basic"
            case post = "client_secret_post"
            case
                none
        }
        fileprivate let value: Value

        /// HTTP Basic with the form-urlencoded client ID and secret (RFC 6749 §2.3.1).
        public static let clientSecretBasic = ClientAuthentication(value: .basic)
        /// `client_id` and `client_secret` in the form body.
        public static let clientSecretPost = ClientAuthentication(value: .post)
        /// A public client: `client_id` in the body, no secret (use PKCE).
        public static let none = ClientAuthentication(value: .none)

        /// Parses `client_secret_basic`, `client_secret_post` or `none`.
        public init?(rawValue: String) {
            guard let value = Value(rawValue: rawValue) else { return nil }
            self.value = value
        }
        private init(value: Value) { self.value = value }

        /// The RFC 7591 name.
        public var rawValue: String { value.rawValue }
        /// The RFC 7591 name.
        public var description: String { value.rawValue }
    }

    /// An OAuth grant type.
    public struct Grant: Hashable, Sendable, CustomStringConvertible {
        /// The `grant_type` value.
        public let rawValue: String
        /// Wraps a grant type (extension grants are URIs).
        public init(rawValue: String) { self.rawValue = rawValue }

        /// `authorization_code`.
        public static let authorizationCode = Grant(rawValue: "authorization_code")
        /// `refresh_token`.
        public static let refreshToken = Grant(rawValue: "refresh_token")
        /// `client_credentials`.
        public static let clientCredentials = Grant(rawValue: "client_credentials")

        /// The `grant_type` value.
        public var description: String { rawValue }
    }

    /// The registration's identifier; the first component of every ``StoreKey`` it serves.
    public let id: ProviderID
    /// The token endpoint (RFC 6749 §3.2).
    public let tokenEndpoint: URL
    /// The authorization endpoint (RFC 6749 §3.1), needed for the authorization-code flow.
    public let authorizationEndpoint: URL?
    /// The revocation endpoint (RFC 7009).
    public let revocationEndpoint: URL?
    /// The introspection endpoint (RFC 7662).
    public let introspectionEndpoint: URL?
    /// The client identifier.
    public let clientID: String
    /// The client secret, for confidential clients.
    public let clientSecret: Secret?
    /// How the client authenticates.
    public let clientAuthentication: ClientAuthentication
    /// The grants the broker may use with this registration.
    public let grants: Set<Grant>
    /// The delimiter used to join scopes in requests and to split them in responses (a space by RFC 6749).
    public let scopeDelimiter: Character
    /// Whether the authorization-code flow must use PKCE. The broker always sends S256 challenges; this records
    /// that the server requires them.
    public let requiresPKCE: Bool
    /// Extra parameters added to every token request (for example `audience` or `resource`).
    public let extraTokenParameters: [String: String]
    /// Whether `http` endpoints on loopback hosts are allowed (for tests and local servers).
    public let allowsInsecureLoopback: Bool
    /// The authorization server's issuer identifier (RFC 8414 §2), or `nil` when not declared.
    ///
    /// When set, the `iss` parameter of an authorization response (RFC 9207) must equal it exactly (simple string
    /// comparison), or ``Broker/completeAuthorization(callbackURL:)`` refuses the callback before any token request
    /// (a mix-up defence). A response without `iss` is accepted unless ``requiresAuthorizationResponseIssuer``.
    public let issuer: String?
    /// Whether the server always sends `iss` in authorization responses (RFC 8414's
    /// `authorization_response_iss_parameter_supported`): then a response without it is refused too. Needs
    /// ``issuer``.
    public let requiresAuthorizationResponseIssuer: Bool
    /// Provider-specific behaviour.
    public let strategy: any ProviderStrategy

    /// Validates and creates a descriptor.
    ///
    /// - Throws: ``BrokerError`` (``BrokerError/Code/invalidConfiguration``) when an endpoint is not an absolute
    ///   `https` URL (or loopback `http` with `allowsInsecureLoopback`), has a fragment, the client ID is empty,
    ///   a confidential authentication method has no secret, no grant is listed, the authorization-code grant has
    ///   no authorization endpoint, an extra parameter would override a protocol parameter, `issuer` is not an
    ///   `https` URL without query or fragment (loopback `http` with `allowsInsecureLoopback`), or
    ///   `requiresAuthorizationResponseIssuer` is set without an `issuer`.
    public init(
        id: ProviderID,
        tokenEndpoint: URL,
        clientID: String,
        clientSecret: Secret? = nil,
        clientAuthentication: ClientAuthentication = .clientSecretBasic,
        grants: Set<Grant>,
        authorizationEndpoint: URL? = nil,
        revocationEndpoint: URL? = nil,
        introspectionEndpoint: URL? = nil,
        scopeDelimiter: Character = " ",
        requiresPKCE: Bool = true,
        extraTokenParameters: [String: String] = [:],
        allowsInsecureLoopback: Bool = false,
        issuer: String? = nil,
        requiresAuthorizationResponseIssuer: Bool = false,
        strategy: any ProviderStrategy = StandardProviderStrategy()
    ) throws {
        func check(_ url: URL?, _ name: String) throws {
            guard let url else { return }
            try Self.validateEndpoint(url, name: name, allowsInsecureLoopback: allowsInsecureLoopback)
        }
        try check(tokenEndpoint, "token endpoint")
        try check(authorizationEndpoint, "authorization endpoint")
        try check(revocationEndpoint, "revocation endpoint")
        try check(introspectionEndpoint, "introspection endpoint")
        guard !clientID.isEmpty, !clientID.unicodeScalars.contains(where: { $0.properties.generalCategory == .control })
        else { throw BrokerError(.invalidConfiguration, "client ID must be non-empty and free of control characters") }
        if clientAuthentication != .none, clientSecret?.isEmpty ?? true {
            throw BrokerError(
                .invalidConfiguration, "client authentication \(clientAuthentication) needs a client secret")
        }
        guard !grants.isEmpty else { throw BrokerError(.invalidConfiguration, "a provider needs at least one grant") }
        if grants.contains(.authorizationCode), authorizationEndpoint == nil {
            throw BrokerError(.invalidConfiguration, "the authorization_code grant needs an authorization endpoint")
        }
        guard scopeDelimiter != "\"", scopeDelimiter != "\\", !scopeDelimiter.isLetter, !scopeDelimiter.isNumber
        else { throw BrokerError(.invalidConfiguration, "scope delimiter \(scopeDelimiter) is not usable") }
        let reserved: Set<String> = [
            "grant_type", "code", "code_verifier", "redirect_uri", "refresh_token", "client_id", "client_secret",
            "scope", "state", "token", "token_type_hint",
        ]
        if let clash = extraTokenParameters.keys.sorted().first(where: reserved.contains) {
            throw BrokerError(.invalidConfiguration, "extra token parameter \(clash) would override the protocol")
        }
        if let issuer {
            guard let url = URL(string: issuer), url.query == nil, PrintableText.isPrintable(issuer) else {
                throw BrokerError(.invalidConfiguration, "issuer must be an https URL without a query or fragment")
            }
            try Self.validateEndpoint(url, name: "issuer", allowsInsecureLoopback: allowsInsecureLoopback)
        } else if requiresAuthorizationResponseIssuer {
            throw BrokerError(
                .invalidConfiguration, "requiresAuthorizationResponseIssuer needs the issuer it requires")
        }
        self.id = id
        self.tokenEndpoint = tokenEndpoint
        self.authorizationEndpoint = authorizationEndpoint
        self.revocationEndpoint = revocationEndpoint
        self.introspectionEndpoint = introspectionEndpoint
        self.clientID = clientID
        self.clientSecret = clientSecret
        self.clientAuthentication = clientAuthentication
        self.grants = grants
        self.scopeDelimiter = scopeDelimiter
        self.requiresPKCE = requiresPKCE
        self.extraTokenParameters = extraTokenParameters
        self.allowsInsecureLoopback = allowsInsecureLoopback
        self.issuer = issuer
        self.requiresAuthorizationResponseIssuer = requiresAuthorizationResponseIssuer
        self.strategy = strategy
    }

    /// Whether the descriptor allows `grant`.
    public func supports(_ grant: Grant) -> Bool { grants.contains(grant) }

    /// Validates an endpoint or redirect URI: absolute, no fragment, `https`, or loopback `http` when allowed.
    /// - Throws: ``BrokerError`` (``BrokerError/Code/invalidConfiguration``).
    public static func validateEndpoint(_ url: URL, name: String, allowsInsecureLoopback: Bool) throws {
        guard let scheme = url.scheme?.lowercased(), let host = url.host, !host.isEmpty else {
            throw BrokerError(.invalidConfiguration, "\(name) must be an absolute URL")
        }
        guard url.fragment == nil else { throw BrokerError(.invalidConfiguration, "\(name) must not have a fragment") }
        switch scheme {
        case "https":
            return
        case "http" where allowsInsecureLoopback && isLoopback(host: host):
            return
        case "http":
            throw BrokerError(
                .invalidConfiguration,
                "\(name) must use https (http is allowed only for loopback hosts with allowsInsecureLoopback)")
        default:
            throw BrokerError(.invalidConfiguration, "\(name) must use https")
        }
    }

    /// Whether `host` is `localhost`, an IPv4 address in 127.0.0.0/8, or `::1`.
    public static func isLoopback(host: String) -> Bool {
        let bare = host.trimmingCharacters(in: CharacterSet(charactersIn: "[]")).lowercased()
        if bare == "localhost" || bare == "::1" || bare == "0:0:0:0:0:0:0:1" { return true }
        let octets = bare.split(separator: ".", omittingEmptySubsequences: false)
        return octets.count == 4 && octets[0] == "127" && octets.allSatisfy { UInt8($0) != nil }
    }

    /// The provider ID, endpoints, client ID and authentication method; never the secret.
    public var description: String {
        "ProviderDescriptor(id: \(id), token: \(tokenEndpoint.absoluteString), client: \(clientID), "
            + "auth: \(clientAuthentication), grants: \(grants.map(\.rawValue).sorted()))"
    }
}
