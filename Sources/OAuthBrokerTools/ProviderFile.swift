public import Foundation
public import OAuthBroker

/// A provider registration read from a JSON file, as the `oauth-broker` command line takes it with `--provider`.
///
/// ```json
/// {
///   "id": "billing-api",
///   "token_endpoint": "https://auth.example.com/oauth/token",
///   "authorization_endpoint": "https://auth.example.com/oauth/authorize",
///   "revocation_endpoint": "https://auth.example.com/oauth/revoke",
///   "client_id": "my-client",
///   "client_secret": "${env:BILLING_CLIENT_SECRET}",
///   "client_auth": "client_secret_basic",
///   "grants": ["authorization_code", "refresh_token", "client_credentials"],
///   "redirect_uri": "https://app.example.com/oauth/callback"
/// }
/// ```
///
/// Fields: `id`, `token_endpoint`, `client_id` and `grants` are required; `authorization_endpoint`,
/// `revocation_endpoint`, `introspection_endpoint`, `client_secret`, `client_auth` (`client_secret_basic`,
/// `client_secret_post` or `none`; by default `client_secret_basic` with a secret and `none` without),
/// `redirect_uri`, `scope_delimiter` (one character, default a space), `pkce_required` (default `true`),
/// `allow_insecure_loopback` (default `false`: `http` is then refused everywhere; when `true`, `http` is allowed
/// for `127.0.0.1`, `localhost` and `::1` in every endpoint and the redirect URI), `extra_token_params` (an
/// object of strings), `issuer` (the authorization server's issuer identifier: the `iss` an authorization response
/// must carry, RFC 9207) and `authorization_response_iss_parameter_supported` (default `false`; `true` refuses a
/// response without `iss`, and needs `issuer`) are optional. `grants` lists `authorization_code`,
/// `refresh_token` and `client_credentials`.
///
/// Any string value (in `grants` and `extra_token_params` too) may be exactly `${env:NAME}`: it is replaced by
/// the environment variable `NAME`, and a missing or empty variable is an error naming it. The placeholder must be
/// the whole value, never part of one. An unknown field, a wrong type or an invalid value is an error naming the
/// field. Error messages never quote a value from the file, so a secret cannot leak through them.
public struct ProviderFile: Sendable, CustomStringConvertible {
    /// The validated provider registration.
    public let descriptor: ProviderDescriptor
    /// The default redirect URI for the authorization-code flow (`redirect_uri`), already validated.
    public let redirectURI: String?

    /// The fields a provider file may contain.
    public static let knownFields: Set<String> = [
        "id", "token_endpoint", "authorization_endpoint", "revocation_endpoint", "introspection_endpoint",
        "client_id", "client_secret", "client_auth", "grants", "redirect_uri", "scope_delimiter", "pkce_required",
        "allow_insecure_loopback", "extra_token_params", "issuer", "authorization_response_iss_parameter_supported",
    ]

    /// Reads and validates the provider file at `path`.
    ///
    /// - Parameters:
    ///   - path: The file.
    ///   - environment: Where `${env:NAME}` values come from; the process environment by default.
    /// - Returns: The parsed file.
    /// - Throws: ``OAuthBroker/BrokerError`` with ``OAuthBroker/BrokerError/Code/invalidConfiguration`` when the
    ///   file cannot be read, is not a JSON object, has an unknown field, a wrong type, a missing variable or an
    ///   invalid value. The message starts with `provider file <path>:` and never contains a value from the file.
    public static func load(
        path: String, environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws -> ProviderFile {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw BrokerError(.invalidConfiguration, "provider file \(path): cannot be read")
        }
        return try ProviderFile(json: data, environment: environment, source: "provider file \(path)")
    }

    /// Parses and validates a provider file's content.
    ///
    /// - Parameters:
    ///   - json: The JSON document.
    ///   - environment: Where `${env:NAME}` values come from.
    ///   - source: How error messages name the document, for example `provider file ./github.json`.
    /// - Throws: ``OAuthBroker/BrokerError`` with ``OAuthBroker/BrokerError/Code/invalidConfiguration``, as
    ///   ``load(path:environment:)``.
    public init(json: Data, environment: [String: String], source: String = "provider file") throws {
        func fail(_ message: String) -> BrokerError { BrokerError(.invalidConfiguration, "\(source): \(message)") }

        let object: [String: JSONValue]
        do {
            guard case .object(let decoded) = try JSONDecoder().decode(JSONValue.self, from: json) else {
                throw fail("must be a JSON object")
            }
            object = decoded
        } catch let error as BrokerError {
            throw error
        } catch {
            throw fail("is not valid JSON")
        }
        if let unknown = object.keys.sorted().first(where: { !Self.knownFields.contains($0) }) {
            throw fail("unknown field \"\(Self.printable(unknown))\"")
        }
        let fields = FieldReader(object: object, environment: environment, fail: fail)

        let id: ProviderID
        do { id = try ProviderID(try fields.requiredString("id")) } catch let error as BrokerError
            where error.code == .invalidInput
        {
            throw fail("field \"id\": \(error.message)")
        }
        let tokenEndpoint = try fields.url("token_endpoint", required: true)!
        let authorizationEndpoint = try fields.url("authorization_endpoint")
        let revocationEndpoint = try fields.url("revocation_endpoint")
        let introspectionEndpoint = try fields.url("introspection_endpoint")
        let clientID = try fields.requiredString("client_id")
        let clientSecret = try fields.string("client_secret").map(Secret.init)

        let clientAuthentication: ProviderDescriptor.ClientAuthentication
        if let raw = try fields.string("client_auth") {
            guard let parsed = ProviderDescriptor.ClientAuthentication(rawValue: raw) else {
                throw fail("field \"client_auth\" must be client_secret_basic, client_secret_post or none")
            }
            clientAuthentication = parsed
        } else {
            clientAuthentication = clientSecret == nil ? .none : .clientSecretBasic
        }

        let grantNames = try fields.stringArray("grants")
        let allowedGrants: [ProviderDescriptor.Grant] = [.authorizationCode, .refreshToken, .clientCredentials]
        var grants = Set<ProviderDescriptor.Grant>()
        for name in grantNames {
            guard let grant = allowedGrants.first(where: { $0.rawValue == name }) else {
                throw fail("field \"grants\" may list only authorization_code, refresh_token and client_credentials")
            }
            grants.insert(grant)
        }

        var scopeDelimiter: Character = " "
        if let raw = try fields.string("scope_delimiter") {
            guard raw.count == 1, let character = raw.first else {
                throw fail("field \"scope_delimiter\" must be exactly one character")
            }
            scopeDelimiter = character
        }
        let requiresPKCE = try fields.bool("pkce_required") ?? true
        let allowsInsecureLoopback = try fields.bool("allow_insecure_loopback") ?? false
        let extraTokenParameters = try fields.stringObject("extra_token_params")
        let issuer = try fields.string("issuer")
        let requiresIssuer = try fields.bool("authorization_response_iss_parameter_supported") ?? false

        let redirectURI = try fields.string("redirect_uri")
        if let redirectURI {
            guard let url = URL(string: redirectURI) else { throw fail("field \"redirect_uri\" is not a URL") }
            do {
                try ProviderDescriptor.validateEndpoint(
                    url, name: "redirect_uri", allowsInsecureLoopback: allowsInsecureLoopback)
            } catch let error as BrokerError {
                throw fail(error.message)
            }
        }

        do {
            descriptor = try ProviderDescriptor(
                id: id, tokenEndpoint: tokenEndpoint, clientID: clientID, clientSecret: clientSecret,
                clientAuthentication: clientAuthentication, grants: grants,
                authorizationEndpoint: authorizationEndpoint, revocationEndpoint: revocationEndpoint,
                introspectionEndpoint: introspectionEndpoint, scopeDelimiter: scopeDelimiter,
                requiresPKCE: requiresPKCE, extraTokenParameters: extraTokenParameters,
                allowsInsecureLoopback: allowsInsecureLoopback, issuer: issuer,
                requiresAuthorizationResponseIssuer: requiresIssuer)
        } catch let error as BrokerError {
            throw fail(Self.fieldNames(in: error.message))
        }
        self.redirectURI = redirectURI
    }

    /// The descriptor's summary and the redirect URI; never the client secret.
    public var description: String {
        "ProviderFile(\(descriptor), redirect: \(redirectURI ?? "none"))"
    }

    /// Rewrites the descriptor's wording ("token endpoint") into the file's field names ("token_endpoint").
    private static func fieldNames(in message: String) -> String {
        var text = message
        for (phrase, field) in [
            ("token endpoint", "token_endpoint"), ("authorization endpoint", "authorization_endpoint"),
            ("revocation endpoint", "revocation_endpoint"), ("introspection endpoint", "introspection_endpoint"),
            ("client ID", "client_id"), ("allowsInsecureLoopback", "allow_insecure_loopback"),
            ("extra token parameter", "extra_token_params entry"),
            ("requiresAuthorizationResponseIssuer", "authorization_response_iss_parameter_supported"),
        ] {
            text = text.replacingOccurrences(of: phrase, with: field)
        }
        return text
    }

    /// A field name fit for an error message: at most 64 characters, control characters replaced.
    static func printable(_ name: String) -> String {
        let cleaned = String(
            String.UnicodeScalarView(
                name.unicodeScalars.map { $0.properties.generalCategory == .control ? "?" : $0 }))
        return cleaned.count > 64 ? String(cleaned.prefix(64)) + "…" : cleaned
    }
}

/// Reads typed fields from a provider file, substituting `${env:NAME}` in every string.
private struct FieldReader {
    let object: [String: JSONValue]
    let environment: [String: String]
    let fail: (String) -> BrokerError

    /// The value of a string field after substitution; `nil` when absent or `null`.
    func string(_ name: String) throws -> String? {
        switch object[name] {
        case nil, .null?: return nil
        case .string(let value)?: return try substitute(value, field: name)
        default: throw fail("field \"\(name)\" must be a string")
        }
    }

    func requiredString(_ name: String) throws -> String {
        guard let value = try string(name) else { throw fail("field \"\(name)\" is required") }
        return value
    }

    func url(_ name: String, required: Bool = false) throws -> URL? {
        guard let raw = required ? try requiredString(name) : try string(name) else { return nil }
        guard let url = URL(string: raw), url.scheme != nil else {
            throw fail("field \"\(name)\" is not an absolute URL")
        }
        return url
    }

    func bool(_ name: String) throws -> Bool? {
        switch object[name] {
        case nil, .null?: return nil
        case .bool(let value)?: return value
        default: throw fail("field \"\(name)\" must be true or false")
        }
    }

    func stringArray(_ name: String) throws -> [String] {
        guard case .array(let values)? = object[name] else {
            if object[name] == nil || object[name] == .null { throw fail("field \"\(name)\" is required") }
            throw fail("field \"\(name)\" must be an array of strings")
        }
        return try values.map { value in
            guard case .string(let text) = value else { throw fail("field \"\(name)\" must be an array of strings") }
            return try substitute(text, field: name)
        }
    }

    func stringObject(_ name: String) throws -> [String: String] {
        switch object[name] {
        case nil, .null?: return [:]
        case .object(let entries)?:
            var result: [String: String] = [:]
            for (key, value) in entries {
                guard case .string(let text) = value else {
                    throw fail("field \"\(name)\" must be an object of strings")
                }
                result[key] = try substitute(text, field: "\(name).\(ProviderFile.printable(key))")
            }
            return result
        default: throw fail("field \"\(name)\" must be an object of strings")
        }
    }

    /// Replaces a whole-value `${env:NAME}`; refuses a placeholder inside a longer string.
    private func substitute(_ value: String, field: String) throws -> String {
        guard value.contains("${env:") else { return value }
        guard value.hasPrefix("${env:"), value.hasSuffix("}") else {
            throw fail("field \"\(field)\": ${env:NAME} must be the whole value")
        }
        let name = String(value.dropFirst("${env:".count).dropLast())
        guard let first = name.unicodeScalars.first, first == "_" || (first.isASCII && first.properties.isAlphabetic),
            name.unicodeScalars.allSatisfy({
                $0 == "_" || ($0.isASCII && $0.properties.isAlphabetic)
                    || ("0"..."9").contains($0)
            })
        else {
            throw fail("field \"\(field)\": ${env:NAME} needs a variable name of letters, digits and underscores")
        }
        guard let resolved = environment[name], !resolved.isEmpty else {
            throw fail("field \"\(field)\": environment variable \(name) is not set")
        }
        return resolved
    }
}
