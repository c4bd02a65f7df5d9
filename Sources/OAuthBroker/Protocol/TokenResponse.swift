public import Foundation

/// A successful token response (RFC 6749 §5.1), parsed and validated.
///
/// A response with a usable `access_token` and `token_type` is accepted even when a minor field is wrong: the
/// provider has already issued (and, on a refresh, possibly rotated) the tokens in it, so rejecting the whole
/// response would lose them. A wrong minor field is dropped or clamped instead, and each such change is listed
/// in ``adjustments``:
///
/// | Field | Wrong value | What happens |
/// |---|---|---|
/// | `expires_in` | `0`, negative, not a number, fractional, a boolean | dropped: the default lifetime applies |
/// | `expires_in` | more than ``maximumExpiresIn`` | clamped to ``maximumExpiresIn`` |
/// | `refresh_token` | not a string, or empty | dropped: the broker keeps the refresh token it had |
/// | `scope` | not a string, empty, or outside the RFC 6749 §3.3 grammar | dropped: the broker keeps its scopes |
/// | `id_token` | not a string, or empty | dropped |
/// | any other field | a non-finite number, or nested deeper than ``JSONValue/maximumDepth`` allows | dropped |
///
/// What remains fatal is a response without a usable token: not JSON, not an object, `access_token` missing,
/// empty or not a string, `token_type` missing (unless the provider's strategy supplies one), empty or not a
/// string. So is a token that could inject into the `Authorization` header the application builds from it
/// (``AccessToken/authorizationHeaderValue()``): an `access_token` with a character outside visible ASCII
/// (`%x21-7E`: no space, CR, LF, NUL or other control character, nothing non-ASCII), or a `token_type` that is
/// not an RFC 9110 `token`. Nothing of such a response is stored.
///
/// Printing a response (`description`, `debugDescription`, `dump`) shows the token type, the expiry, which
/// tokens are present, the scopes and the names of the extra fields; never a token or an extra field's value.
public struct TokenResponse: Sendable, Hashable {
    /// `access_token`.
    public var accessToken: Secret
    /// `token_type`, normalized so `bearer` reads `Bearer`.
    public var tokenType: String
    /// `expires_in`, when present and usable (clamped to ``maximumExpiresIn``).
    public var expiresIn: Duration?
    /// `refresh_token`, when present and usable.
    public var refreshToken: Secret?
    /// `scope`, when present and a valid, non-empty scope list.
    public var scope: ScopeSet?
    /// `id_token` (OpenID Connect), when present and a non-empty string.
    public var idToken: Secret?
    /// Every other field, verbatim, except those that could not be stored (see ``adjustments``).
    public var extraFields: [String: JSONValue]
    /// The minor fields that were wrong and were dropped or clamped, in a fixed order (the RFC 6749 fields, then
    /// extra fields by name). Empty for a well-formed response. Safe to log: an adjustment never holds a value.
    public var adjustments: [Adjustment]

    /// The longest `expires_in` kept: ten years. A longer one is clamped to this.
    public static let maximumExpiresIn: Int64 = 315_360_000

    /// Parses a response body, then validates it as ``init(json:scopeDelimiter:tokenTypeWhenMissing:)`` does.
    ///
    /// Accepts `expires_in` as a number or a numeric string (some providers send strings) and a lower-case
    /// `token_type`. The body is read with the core's JSON parser (see ``JSONValue/init(parsing:)``), with two
    /// allowances so that one odd extra field cannot make the response fatal: a top-level field nested deeper
    /// than ``JSONValue/maximumDepth`` is skipped (and listed in ``adjustments``), and a number outside the range
    /// of `Double` is read as an infinity (and then clamped or dropped).
    ///
    /// - Parameters:
    ///   - body: The response body.
    ///   - scopeDelimiter: The provider's scope delimiter.
    ///   - tokenTypeWhenMissing: The type to assume if `token_type` is absent, or `nil` to reject such responses.
    /// - Throws: ``BrokerError`` (``BrokerError/Code/malformedResponse``) naming what is wrong (never a value):
    ///   not JSON (the message says when it looks like an HTML page), or what
    ///   ``init(json:scopeDelimiter:tokenTypeWhenMissing:)`` rejects.
    public init(parsing body: Data, scopeDelimiter: Character = " ", tokenTypeWhenMissing: String? = nil) throws {
        let parsed: (value: JSONValue, tooDeep: [String])
        do {
            parsed = try JSONReader.parseKeepingShallowMembers(body)
        } catch {
            let prefix = body.prefix(64).first { !($0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09) }
            let hint = prefix == UInt8(ascii: "<") ? " (it looks like an HTML page)" : ""
            throw BrokerError(.malformedResponse, "the token response is not JSON\(hint)")
        }
        try self.init(
            json: parsed.value, scopeDelimiter: scopeDelimiter, tokenTypeWhenMissing: tokenTypeWhenMissing,
            skippedAsTooDeep: parsed.tooDeep)
    }

    /// Validates an already parsed response body.
    ///
    /// Use it when the body has been parsed once for other checks too
    /// (``ResponseClassifier/oauthError(in:)-(JSONValue)``). A body that ``JSONValue/init(parsing:)`` rejects may
    /// still be a usable response with one field nested too deeply or one out-of-range number; give such a body
    /// to ``init(parsing:scopeDelimiter:tokenTypeWhenMissing:)``, which parses it with those allowances.
    ///
    /// - Parameters:
    ///   - json: The parsed body.
    ///   - scopeDelimiter: The provider's scope delimiter.
    ///   - tokenTypeWhenMissing: The type to assume if `token_type` is absent, or `nil` to reject such responses.
    /// - Throws: ``BrokerError`` (``BrokerError/Code/malformedResponse``) naming what is wrong (never a value):
    ///   not an object, `access_token` missing, empty, not a string or not visible ASCII, or `token_type` missing
    ///   (with `tokenTypeWhenMissing` `nil`), empty, not a string or not an RFC 9110 token. Minor fields never
    ///   throw: see ``adjustments``.
    public init(json: JSONValue, scopeDelimiter: Character = " ", tokenTypeWhenMissing: String? = nil) throws {
        try self.init(
            json: json, scopeDelimiter: scopeDelimiter, tokenTypeWhenMissing: tokenTypeWhenMissing,
            skippedAsTooDeep: [])
    }

    /// The validation behind both public initialisers; `skippedAsTooDeep` names the members the parser skipped.
    private init(
        json: JSONValue, scopeDelimiter: Character, tokenTypeWhenMissing: String?, skippedAsTooDeep: [String]
    ) throws {
        guard case .object(let object) = json else {
            throw BrokerError(.malformedResponse, "the token response is not a JSON object")
        }
        var adjustments: [Adjustment] = []
        // A field's value: `nil` when absent or `null`; `.some(nil)` when the parser skipped it as too deep.
        func take(_ name: String) -> JSONValue?? {
            switch object[name] {
            case nil: return skippedAsTooDeep.contains(name) ? .some(nil) : nil
            case .null?: return nil
            case let value?: return .some(value)
            }
        }
        func drop(_ name: String, _ reason: Adjustment.Reason) {
            adjustments.append(Adjustment(field: name, action: .dropped, reason: reason))
        }

        switch take("access_token") {
        case nil: throw BrokerError(.malformedResponse, "the token response has no access_token")
        case .string(let access)??:
            guard !access.isEmpty else {
                throw BrokerError(.malformedResponse, "access_token in the token response is empty")
            }
            guard HeaderGrammar.isVisibleASCII(access) else {
                throw BrokerError(
                    .malformedResponse,
                    "access_token in the token response has a space, a control or a non-ASCII character")
            }
            accessToken = Secret(access)
        default: throw BrokerError(.malformedResponse, "access_token in the token response is not a string")
        }

        let type: String
        switch take("token_type") {
        case nil:
            guard let tokenTypeWhenMissing else {
                throw BrokerError(.malformedResponse, "the token response has no token_type")
            }
            type = tokenTypeWhenMissing
        case .string(let value)??: type = value
        default: throw BrokerError(.malformedResponse, "token_type in the token response is not a string")
        }
        guard !type.isEmpty else { throw BrokerError(.malformedResponse, "token_type in the token response is empty") }
        guard HeaderGrammar.isToken(type) else {
            throw BrokerError(.malformedResponse, "token_type in the token response is not an RFC 9110 token")
        }
        tokenType = type.lowercased() == "bearer" ? "Bearer" : type

        switch take("expires_in") {
        case nil: expiresIn = nil
        case let value?:
            switch value.map(Self.expiresIn) ?? .unusable(.nestedTooDeep) {
            case .usable(let seconds): expiresIn = .seconds(seconds)
            case .clamped:
                expiresIn = .seconds(Self.maximumExpiresIn)
                adjustments.append(Adjustment(field: "expires_in", action: .clamped, reason: .tooLarge))
            case .unusable(let reason):
                expiresIn = nil
                drop("expires_in", reason)
            }
        }

        refreshToken = nil
        switch take("refresh_token") {
        case nil: break
        case .string(let value)??:
            if value.isEmpty { drop("refresh_token", .empty) } else { refreshToken = Secret(value) }
        case let value?: drop("refresh_token", Self.reasonForNonString(value))
        }

        scope = nil
        switch take("scope") {
        case nil: break
        case .string(let value)??:
            // RFC 6749 §3.3 needs at least one scope-token: an empty list would wipe the scopes the broker had.
            if let parsed = try? ScopeSet(parsing: value, delimiter: scopeDelimiter), !parsed.isEmpty {
                scope = parsed
            } else {
                drop("scope", .invalidScope)
            }
        case let value?: drop("scope", Self.reasonForNonString(value))
        }

        idToken = nil
        switch take("id_token") {
        case nil: break
        case .string(let value)??:
            if value.isEmpty { drop("id_token", .empty) } else { idToken = Secret(value) }
        case let value?: drop("id_token", Self.reasonForNonString(value))
        }

        var extras: [String: JSONValue] = [:]
        extras.reserveCapacity(object.count)
        var droppedExtras: [(String, Adjustment.Reason)] = []
        for (name, value) in object where !Self.isDefinedField(name) {
            if let problem = Self.storageProblem(value, level: 2) {
                droppedExtras.append((name, problem))
            } else {
                extras[name] = value
            }
        }
        for name in skippedAsTooDeep where !Self.isDefinedField(name) { droppedExtras.append((name, .nestedTooDeep)) }
        for (name, reason) in droppedExtras.sorted(by: { JSONWriter.sortsBefore($0.0, $1.0) }) {
            adjustments.append(Adjustment(field: Adjustment.loggableName(name), action: .dropped, reason: reason))
        }
        extraFields = extras
        self.adjustments = adjustments
    }

    // MARK: - expires_in

    /// What an `expires_in` value gives.
    private enum ExpiresIn {
        /// Whole seconds in `1...maximumExpiresIn`.
        case usable(Int64)
        /// More than ``maximumExpiresIn``.
        case clamped
        /// Nothing usable.
        case unusable(Adjustment.Reason)
    }

    private static func expiresIn(_ value: JSONValue) -> ExpiresIn {
        switch value {
        case .number(let number): return seconds(number)
        case .string(let text):
            guard let number = numericValue(of: text) else { return .unusable(.notANumber) }
            return seconds(number)
        case .bool: return .unusable(.boolean)
        default: return .unusable(.notANumber)
        }
    }

    private static func seconds(_ number: Double) -> ExpiresIn {
        guard !number.isNaN else { return .unusable(.notANumber) }
        guard number > 0 else { return .unusable(.notPositive) }
        guard number.rounded(.down) == number else { return .unusable(.notAWholeNumber) }
        guard number <= Double(maximumExpiresIn) else { return .clamped }
        return .usable(Int64(number))
    }

    /// A numeric string's value: an integer or a decimal number (no hex, `inf` or `nan` spellings), with
    /// optional surrounding spaces or tabs.
    private static func numericValue(of text: String) -> Double? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let numeric =
            !trimmed.isEmpty
            && trimmed.utf8.allSatisfy { byte in
                switch byte {
                case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "+"), UInt8(ascii: "."),
                    UInt8(ascii: "e"), UInt8(ascii: "E"):
                    true
                default: false
                }
            }
        guard numeric else { return nil }
        if let integer = Int64(trimmed) { return Double(integer) }
        return Double(trimmed)
    }

    // MARK: - Other fields

    /// Whether `name` is one of the RFC 6749 / OpenID Connect fields read above (never an extra field).
    private static func isDefinedField(_ name: String) -> Bool {
        switch name {
        case "access_token", "token_type", "expires_in", "refresh_token", "scope", "id_token": true
        default: false
        }
    }

    /// Why a value where a string belongs is dropped: `nil` stands for a value skipped as too deep.
    private static func reasonForNonString(_ value: JSONValue?) -> Adjustment.Reason {
        value == nil ? .nestedTooDeep : .notAString
    }

    /// Why `value`, sitting at `level` of the response, could not be stored and read back, or `nil` if it can.
    private static func storageProblem(_ value: JSONValue, level: Int) -> Adjustment.Reason? {
        switch value {
        case .null, .bool, .string: return nil
        case .number(let number): return number.isFinite ? nil : .numberOutOfRange
        case .array(let elements):
            guard level <= JSONValue.maximumDepth else { return .nestedTooDeep }
            for element in elements {
                if let problem = storageProblem(element, level: level + 1) { return problem }
            }
            return nil
        case .object(let members):
            guard level <= JSONValue.maximumDepth else { return .nestedTooDeep }
            for member in members.values {
                if let problem = storageProblem(member, level: level + 1) { return problem }
            }
            return nil
        }
    }
}

extension TokenResponse: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// The token type, expiry, which tokens are present, the scopes, the extra fields' names and the adjustments;
    /// never a token or an extra field's value.
    public var description: String {
        var text = "TokenResponse(type: \(PrintableText.sanitized(tokenType, limit: 64))"
        text += ", expiresIn: \(expiresIn.map { String(describing: $0) } ?? "none")"
        text += ", refreshToken: \(refreshToken == nil ? "absent" : "<redacted>")"
        if idToken != nil { text += ", idToken: <redacted>" }
        if let scope { text += ", scope: [\(scope)]" }
        if !extraFields.isEmpty {
            text += ", extraFields: \(extraFields.keys.map(Adjustment.loggableName).sorted())"
        }
        if !adjustments.isEmpty { text += ", adjustments: \(adjustments.map(\.description))" }
        return text + ")"
    }

    /// The same as ``description``.
    public var debugDescription: String { description }

    /// Reflection (`dump`, `Mirror`) shows what ``description`` shows: no token, no extra field's value.
    public var customMirror: Mirror {
        Mirror(
            self,
            children: [
                "accessToken": accessToken, "tokenType": PrintableText.sanitized(tokenType, limit: 64),
                "expiresIn": expiresIn as Any, "refreshToken": refreshToken as Any, "idToken": idToken as Any,
                "scope": scope?.normalized as Any,
                "extraFields": extraFields.keys.map(Adjustment.loggableName).sorted(),
                "adjustments": adjustments.map(\.description),
            ], displayStyle: .struct)
    }
}
