public import OAuthBroker

extension MockAuthorizationServer {
    /// A JSON value as the exact text the server sends, for ``Fault/alteringResponseFields(_:)``.
    ///
    /// Write it as a Swift literal (`0`, `42`, `"a\"b"`, `true`, `0.5`), build it from a `JSONValue`, or give the
    /// JSON text itself with ``raw(_:)`` to send what a typed value cannot spell: `1e12`, `1e400`, `-0`, `3600.0`,
    /// `[]`, or text that is not JSON at all.
    ///
    /// A floating-point value is written in Swift's shortest round-trip form (`1e12` as `1000000000000.0`, `1e16`
    /// as `1e+16`), which is valid JSON; an integer literal is written without a fraction.
    public struct JSONLiteral: Hashable, Sendable, CustomStringConvertible, ExpressibleByStringLiteral,
        ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral, ExpressibleByBooleanLiteral
    {
        /// The JSON text sent on the wire.
        public let text: String

        private init(text: String) {
            self.text = text
        }

        /// Exactly `text`, unchecked: it may be any JSON, or deliberately not JSON.
        ///
        /// - Parameter text: The text to send as the field's value.
        /// - Returns: The literal.
        public static func raw(_ text: String) -> JSONLiteral { JSONLiteral(text: text) }

        /// A JSON string, escaped as RFC 8259 §7 requires.
        ///
        /// - Parameter value: The string.
        /// - Returns: The literal.
        public static func string(_ value: String) -> JSONLiteral { JSONLiteral(text: quoted(value)) }

        /// A JSON number without a fraction.
        ///
        /// - Parameter value: The integer.
        /// - Returns: The literal.
        public static func integer(_ value: Int64) -> JSONLiteral { JSONLiteral(text: String(value)) }

        /// A JSON number in Swift's shortest round-trip form.
        ///
        /// - Parameter value: A finite number.
        /// - Returns: The literal.
        /// - Precondition: `value` is finite (JSON has no infinity or NaN; use ``raw(_:)`` to send them anyway).
        public static func number(_ value: Double) -> JSONLiteral {
            precondition(value.isFinite, "JSON has no infinity or NaN; use JSONLiteral.raw to send one anyway")
            return JSONLiteral(text: "\(value)")
        }

        /// `true` or `false`.
        ///
        /// - Parameter value: The Boolean.
        /// - Returns: The literal.
        public static func bool(_ value: Bool) -> JSONLiteral { JSONLiteral(text: value ? "true" : "false") }

        /// `null` (a field present with a null value, unlike `nil`, which removes the field).
        public static let null = JSONLiteral(text: "null")

        /// The JSON text of `value`; object keys in sorted order.
        ///
        /// - Parameter value: The value.
        public init(_ value: JSONValue) {
            switch value {
            case .null: self = .null
            case .bool(let bool): self = .bool(bool)
            case .number(let number): self = .number(number)
            case .string(let string): self = .string(string)
            case .array(let elements):
                self.init(text: "[" + elements.map { JSONLiteral($0).text }.joined(separator: ",") + "]")
            case .object(let fields):
                self = .object(fields.mapValues(JSONLiteral.init))
            }
        }

        /// A JSON string.
        ///
        /// - Parameter value: The string.
        public init(stringLiteral value: String) { self = .string(value) }

        /// A JSON number without a fraction.
        ///
        /// - Parameter value: The integer.
        public init(integerLiteral value: Int64) { self = .integer(value) }

        /// A JSON number in Swift's shortest round-trip form.
        ///
        /// - Parameter value: A finite number.
        public init(floatLiteral value: Double) { self = .number(value) }

        /// `true` or `false`.
        ///
        /// - Parameter value: The Boolean.
        public init(booleanLiteral value: Bool) { self = .bool(value) }

        /// The JSON text.
        public var description: String { text }

        /// A JSON object of `fields`, in key order.
        static func object(_ fields: [String: JSONLiteral]) -> JSONLiteral {
            let members = fields.sorted { $0.key < $1.key }.map { quoted($0.key) + ":" + $0.value.text }
            return JSONLiteral(text: "{" + members.joined(separator: ",") + "}")
        }

        /// `value` as a JSON string: quotes, backslashes and control characters escaped.
        static func quoted(_ value: String) -> String {
            var out = "\""
            for scalar in value.unicodeScalars {
                switch scalar {
                case "\"": out += "\\\""
                case "\\": out += "\\\\"
                case "\n": out += "\\n"
                case "\r": out += "\\r"
                case "\t": out += "\\t"
                case _ where scalar.value < 0x20:
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                default: out.unicodeScalars.append(scalar)
                }
            }
            return out + "\""
        }
    }
}
