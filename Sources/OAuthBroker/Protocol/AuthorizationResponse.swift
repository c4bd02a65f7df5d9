package import Foundation

/// The parameters of an authorization response (RFC 6749 §4.1.2, RFC 9207) read from the callback URL the user
/// agent landed on, and the checks that need nothing but the URL.
package struct AuthorizationResponse: Sendable {
    /// The parameters a callback may carry at most once: a repeated one is refused, since which copy counts would
    /// otherwise be up to the reader.
    static let singleParameters = ["state", "code", "iss", "error", "error_description"]

    /// The URL as it arrived.
    package let url: URL
    /// `state`, `code`, `iss`, `error` and `error_description`, as present.
    package let state: String?
    package let code: String?
    package let issuer: String?
    package let error: String?
    package let errorDescription: String?

    /// Reads the query of `url`.
    /// - Throws: ``BrokerError/Code/invalidInput`` when one of ``singleParameters`` appears more than once.
    package init(url: URL, provider: ProviderID) throws {
        let query = URLComponents(url: url, resolvingAgainstBaseURL: false)?.percentEncodedQuery ?? ""
        var fields: [String: String] = [:]
        for (name, value) in FormEncoding.decode(query) where Self.singleParameters.contains(name) {
            guard fields[name] == nil else {
                throw BrokerError(
                    .invalidInput, "the callback repeats the \(name) parameter", provider: provider)
            }
            fields[name] = value
        }
        self.url = url
        state = fields["state"]
        code = fields["code"]
        issuer = fields["iss"]
        error = fields["error"]
        errorDescription = fields["error_description"]
    }

    /// Checks `iss` against the provider's declared issuer (RFC 9207 §2.4): equal by simple string comparison;
    /// absent only when the provider does not promise to send it. Nothing to check without a declared issuer.
    /// - Throws: ``BrokerError/Code/authorizationDenied`` (no OAuth error code) on a mismatch or a missing `iss`.
    static func checkIssuer(_ issuer: String?, for provider: ProviderDescriptor) throws {
        guard let expected = provider.issuer else { return }
        guard let issuer else {
            guard !provider.requiresAuthorizationResponseIssuer else {
                throw BrokerError(
                    .authorizationDenied,
                    "the authorization response has no iss, which the provider always sends (RFC 9207); refused "
                        + "before any token request, the authorization session is kept",
                    provider: provider.id)
            }
            return
        }
        guard ConstantTime.equals(Array(issuer.utf8), Array(expected.utf8)) else {
            throw BrokerError(
                .authorizationDenied,
                "the authorization response's iss is not the provider's issuer (RFC 9207: a possible mix-up "
                    + "attack); refused before any token request, the authorization session is kept",
                provider: provider.id)
        }
    }

    /// Whether the callback arrived on `redirectURI`: same scheme and host (case-insensitive), same port (the
    /// scheme's default when absent), same path, no user information, and every query parameter of `redirectURI`
    /// present with the same value (the authorization server appends its own parameters to the others).
    static func url(_ url: URL, arrivedOn redirectURI: String) -> Bool {
        guard let callback = URLComponents(url: url, resolvingAgainstBaseURL: false),
            let registered = URLComponents(string: redirectURI)
        else { return false }
        func port(_ components: URLComponents) -> Int? {
            if let port = components.port { return port }
            switch components.scheme?.lowercased() {
            case "https": return 443
            case "http": return 80
            default: return nil
            }
        }
        func path(_ components: URLComponents) -> String {
            components.percentEncodedPath.isEmpty ? "/" : components.percentEncodedPath
        }
        guard callback.scheme?.lowercased() == registered.scheme?.lowercased(),
            callback.percentEncodedHost?.lowercased() == registered.percentEncodedHost?.lowercased(),
            port(callback) == port(registered), path(callback) == path(registered),
            callback.percentEncodedUser == nil, callback.percentEncodedPassword == nil
        else { return false }
        let given = FormEncoding.decode(callback.percentEncodedQuery ?? "")
        for (name, value) in FormEncoding.decode(registered.percentEncodedQuery ?? "") {
            guard given.contains(where: { $0.0 == name && $0.1 == value }) else { return false }
        }
        return true
    }
}
