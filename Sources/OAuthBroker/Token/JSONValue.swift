/// A JSON value, used for the extra fields of a token response that RFC 6749 does not define.
public enum JSONValue: Hashable, Sendable, Codable {
    /// `null`.
    case null
    /// `true` or `false`.
    case bool(Bool)
    /// A number.
    case number(Double)
    /// A string.
    case string(String)
    /// An array.
    case array([JSONValue])
    /// An object.
    case object([String: JSONValue])

    /// Decodes any JSON value.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([JSONValue].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }

    /// Encodes the value.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let value): try container.encode(value)
        case .number(let value): try container.encode(value)
        case .string(let value): try container.encode(value)
        case .array(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        }
    }
}

extension JSONValue {
    /// The deepest nesting of arrays and objects that ``init(parsing:)`` accepts, and that a stored record's
    /// extra fields may have: 512 levels, where the document's top-level value is level 1.
    ///
    /// A token response is an object (level 1), so an extra field in it may nest 511 arrays or objects; the
    /// store codec reads and writes exactly that much. ``TokenResponse`` drops extra fields nested deeper, so a
    /// record it produces is never stored unreadable.
    public static let maximumDepth = 512

    /// Parses a JSON document (RFC 8259), strictly.
    ///
    /// No comments, trailing commas, leading zeros, bare control characters in strings or invalid UTF-8 (an
    /// unpaired surrogate escape is invalid); only whitespace may follow the value. Numbers become `Double`s; a
    /// number outside its range (`1e400`) is an error. When a member name occurs more than once in an object,
    /// the last occurrence wins, as with ECMAScript's `JSON.parse`. Member order is not kept.
    ///
    /// - Parameter bytes: UTF-8 JSON, for example a response body.
    /// - Throws: ``BrokerError`` (``BrokerError/Code/malformedResponse``) when `bytes` is not such JSON or nests
    ///   deeper than ``maximumDepth``. The message never quotes the input.
    public init(parsing bytes: some Collection<UInt8>) throws {
        self = try JSONReader.withBuffer(bytes) { try Self.parse($0) }
    }

    /// The parser behind ``init(parsing:)``.
    @usableFromInline
    static func parse(_ buffer: UnsafeBufferPointer<UInt8>) throws -> JSONValue {
        do {
            return try JSONReader.parse(buffer)
        } catch is JSONReader.TooDeep {
            throw BrokerError(.malformedResponse, "the JSON nests deeper than \(Self.maximumDepth) levels")
        } catch {
            throw BrokerError(.malformedResponse, "the bytes are not valid JSON")
        }
    }
}
