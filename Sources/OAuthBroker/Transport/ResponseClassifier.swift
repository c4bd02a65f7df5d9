public import Foundation

/// Turns an unsuccessful token-endpoint response into a ``BrokerError``, following RFC 6749 §5.2.
///
/// - 429, and 503 with `Retry-After` → ``BrokerError/Code/rateLimited`` (transient, with the delay).
/// - Other 5xx, 408, and the `temporarily_unavailable` / `server_error` codes → ``BrokerError/Code/providerUnavailable``.
/// - `invalid_grant` → ``BrokerError/Code/invalidGrant`` (terminal: re-authorize).
/// - `invalid_client`, `unauthorized_client` → ``BrokerError/Code/clientRejected``.
/// - `slow_down` → ``BrokerError/Code/rateLimited``.
/// - Any other OAuth error, or a 4xx without one (an HTML page) → ``BrokerError/Code/providerRejected``.
/// - 3xx → ``BrokerError/Code/redirectRefused``.
///
/// Only an explicit `invalid_grant` is treated as a dead grant; `invalid_request` and friends never wipe a token.
public enum ResponseClassifier {
    /// The RFC 6749 §5.2 error body, when the response carries one.
    ///
    /// Printing it (`String(describing:)`, `String(reflecting:)`, `dump`) shows the code only: the description and
    /// URI are the provider's free text.
    public struct OAuthErrorBody: Sendable, Hashable, CustomDebugStringConvertible, CustomReflectable {
        /// `error`.
        public var code: OAuthErrorCode
        /// `error_description`.
        public var description: String?
        /// `error_uri`.
        public var uri: String?

        /// `OAuthErrorBody(code: …)`, and whether a description and URI are present; never their text.
        public var debugDescription: String {
            "OAuthErrorBody(code: \(PrintableText.sanitized(code.rawValue)), description: "
                + "\(description == nil ? "absent" : "<omitted>"), uri: \(uri == nil ? "absent" : "<omitted>"))"
        }

        /// A mirror with the code only.
        public var customMirror: Mirror {
            Mirror(self, children: ["code": PrintableText.sanitized(code.rawValue)], displayStyle: .struct)
        }
    }

    /// Parses an RFC 6749 §5.2 error object from `body`, if it is one.
    /// - Parameter body: A response body.
    /// - Returns: The error, or `nil` when `body` is not JSON or ``oauthError(in:)-(JSONValue)`` finds none.
    public static func oauthError(in body: Data) -> OAuthErrorBody? {
        guard let json = try? JSONReader.parse(body) else { return nil }
        return oauthError(in: json)
    }

    /// Reads an RFC 6749 §5.2 error object from an already parsed body, if it is one.
    /// - Parameter json: The parsed body.
    /// - Returns: The error when `json` is an object whose `error` is a non-empty string of at most 128 bytes
    ///   (`error_description` and `error_uri` are kept when they are strings); otherwise `nil`.
    public static func oauthError(in json: JSONValue) -> OAuthErrorBody? {
        guard case .object(let object) = json, case .string(let code)? = object["error"], !code.isEmpty,
            code.utf8.count <= 128
        else { return nil }
        func string(_ name: String) -> String? {
            guard case .string(let value)? = object[name] else { return nil }
            return value
        }
        return OAuthErrorBody(
            code: OAuthErrorCode(rawValue: code), description: string("error_description"), uri: string("error_uri"))
    }

    /// Classifies `response`, which was not a successful token response, parsing its body.
    /// - Parameters:
    ///   - response: The response.
    ///   - metadata: What was read from its headers (`Retry-After`, content type).
    ///   - provider: The provider, for the error's context.
    /// - Returns: The error to throw.
    public static func classify(_ response: TransportResponse, metadata: ResponseMetadata, provider: ProviderID?)
        -> BrokerError
    {
        classify(response, json: try? JSONReader.parse(response.body), metadata: metadata, provider: provider)
    }

    /// Classifies `response`, which was not a successful token response, using its already parsed body.
    /// - Parameters:
    ///   - response: The response (its status is used; its body is not parsed again).
    ///   - json: `response.body` parsed (for example with ``JSONValue/init(parsing:)``), or `nil` when it is not
    ///     JSON.
    ///   - metadata: What was read from its headers (`Retry-After`, content type).
    ///   - provider: The provider, for the error's context.
    /// - Returns: The error to throw.
    public static func classify(
        _ response: TransportResponse, json: JSONValue?, metadata: ResponseMetadata, provider: ProviderID?
    ) -> BrokerError {
        let status = response.status
        let body = json.flatMap { oauthError(in: $0) }
        let retryAfter = metadata.retryAfter
        func make(_ code: BrokerError.Code, _ message: String) -> BrokerError {
            BrokerError(
                code, message, oauthError: body?.code, oauthErrorDescription: body?.description, status: status,
                retryAfter: retryAfter, provider: provider)
        }
        if (300..<400).contains(status) {
            return make(.redirectRefused, "the endpoint answered with a redirect (HTTP \(status))")
        }
        if status == 429 || (status == 503 && retryAfter != nil) || body?.code == .slowDown {
            return make(.rateLimited, "the provider is rate limiting requests (HTTP \(status))")
        }
        if status >= 500 || status == 408 || body?.code == .temporarilyUnavailable || body?.code == .serverError {
            return make(.providerUnavailable, "the provider is unavailable (HTTP \(status))")
        }
        if let body {
            switch body.code {
            case .invalidGrant:
                return make(.invalidGrant, "the provider rejected the grant (invalid_grant)")
            case .invalidClient, .unauthorizedClient:
                return make(.clientRejected, "the provider rejected the client (\(body.code.rawValue))")
            default:
                return make(.providerRejected, "the provider rejected the request (\(body.code.rawValue))")
            }
        }
        let kind = metadata.contentType.map { " with \($0) body" } ?? ""
        return make(.providerRejected, "the provider answered HTTP \(status)\(kind) and no OAuth error")
    }
}
