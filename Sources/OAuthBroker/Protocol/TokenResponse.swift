public import Foundation

/// A successful token response (RFC 6749 §5.1), parsed and validated.
public struct TokenResponse: Sendable, Hashable {
    /// `access_token`.
    public var accessToken: Secret
    /// `token_type`, normalized so `bearer` reads `Bearer`.
    public var tokenType: String
    /// `expires_in`, when present.
    public var expiresIn: Duration?
    /// `refresh_token`, when present.
    public var refreshToken: Secret?
    /// `scope`, when present.
    public var scope: ScopeSet?
    /// `id_token` (OpenID Connect), when present.
    public var idToken: Secret?
    /// Every other field, verbatim.
    public var extraFields: [String: JSONValue]

    /// The longest `expires_in` accepted: ten years. Anything longer is treated as malformed.
    public static let maximumExpiresIn: Int64 = 315_360_000

    /// Parses a response body.
    ///
    /// Accepts `expires_in` as a number or a numeric string (some providers send strings) and a lower-case
    /// `token_type`.
    ///
    /// - Parameters:
    ///   - body: The response body.
    ///   - scopeDelimiter: The provider's scope delimiter.
    ///   - tokenTypeWhenMissing: The type to assume if `token_type` is absent, or `nil` to reject such responses.
    /// - Throws: ``BrokerError`` (``BrokerError/Code/malformedResponse``) naming what is wrong (never a value):
    ///   not JSON, not an object, `access_token` missing or empty, `token_type` missing, `expires_in` not a
    ///   positive whole number up to ``maximumExpiresIn``, a field of the wrong type, or an invalid scope.
    public init(parsing body: Data, scopeDelimiter: Character = " ", tokenTypeWhenMissing: String? = nil) throws {
        guard let json = try? JSONSerialization.jsonObject(with: body, options: [.fragmentsAllowed]) else {
            let prefix = body.prefix(64).first { !($0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09) }
            let hint = prefix == UInt8(ascii: "<") ? " (it looks like an HTML page)" : ""
            throw BrokerError(.malformedResponse, "the token response is not JSON\(hint)")
        }
        guard var object = json as? [String: Any] else {
            throw BrokerError(.malformedResponse, "the token response is not a JSON object")
        }
        func string(_ name: String, required: Bool) throws -> String? {
            guard let raw = object.removeValue(forKey: name), !(raw is NSNull) else {
                if required { throw BrokerError(.malformedResponse, "the token response has no \(name)") }
                return nil
            }
            guard let value = raw as? String else {
                throw BrokerError(.malformedResponse, "\(name) in the token response is not a string")
            }
            return value
        }
        guard let access = try string("access_token", required: true), !access.isEmpty else {
            throw BrokerError(.malformedResponse, "access_token in the token response is empty")
        }
        accessToken = Secret(access)
        let type = try string("token_type", required: tokenTypeWhenMissing == nil) ?? tokenTypeWhenMissing ?? ""
        guard !type.isEmpty else { throw BrokerError(.malformedResponse, "token_type in the token response is empty") }
        tokenType = type.lowercased() == "bearer" ? "Bearer" : type
        expiresIn = try Self.parseExpiresIn(object.removeValue(forKey: "expires_in"))
        refreshToken = try string("refresh_token", required: false).flatMap { $0.isEmpty ? nil : Secret($0) }
        if let scopeString = try string("scope", required: false) {
            do {
                scope = try ScopeSet(parsing: scopeString, delimiter: scopeDelimiter)
            } catch {
                throw BrokerError(.malformedResponse, "scope in the token response is not a valid scope list")
            }
        } else {
            scope = nil
        }
        idToken = try string("id_token", required: false).map(Secret.init)
        var extras: [String: JSONValue] = [:]
        for (name, value) in object {
            guard let data = try? JSONSerialization.data(withJSONObject: [value], options: [.fragmentsAllowed]),
                let decoded = try? JSONDecoder().decode([JSONValue].self, from: data), let first = decoded.first
            else { continue }
            extras[name] = first
        }
        extraFields = extras
    }

    private static func parseExpiresIn(_ raw: Any?) throws -> Duration? {
        guard let raw, !(raw is NSNull) else { return nil }
        let seconds: Int64
        if let string = raw as? String {
            let trimmed = string.trimmingCharacters(in: .whitespaces)
            guard let value = Int64(trimmed) ?? Double(trimmed).flatMap({ exactWhole($0) }) else {
                throw BrokerError(.malformedResponse, "expires_in in the token response is not a number")
            }
            seconds = value
        } else if let number = raw as? NSNumber, !Self.isBoolean(number) {
            guard let value = exactWhole(number.doubleValue) else {
                throw BrokerError(.malformedResponse, "expires_in in the token response is not a whole number")
            }
            seconds = value
        } else {
            throw BrokerError(.malformedResponse, "expires_in in the token response is not a number")
        }
        guard seconds > 0, seconds <= maximumExpiresIn else {
            throw BrokerError(
                .malformedResponse, "expires_in in the token response is out of range (1 to \(maximumExpiresIn))")
        }
        return .seconds(seconds)
    }

    private static func isBoolean(_ number: NSNumber) -> Bool {
        let type = String(cString: number.objCType)
        return type == "c" || type == "B"
    }

    private static func exactWhole(_ value: Double) -> Int64? {
        guard value.isFinite, value.rounded(.down) == value, abs(value) < 9e15 else { return nil }
        return Int64(value)
    }
}
