/// An ordered list of HTTP header fields with case-insensitive lookup.
public struct TransportHeaders: Sendable, Hashable, Sequence, ExpressibleByDictionaryLiteral,
    CustomStringConvertible, CustomReflectable
{
    /// One header field.
    public struct Field: Sendable, Hashable {
        /// The field name as sent or received.
        public var name: String
        /// The field value.
        public var value: String
        /// Creates a field.
        public init(name: String, value: String) {
            self.name = name
            self.value = value
        }
    }

    /// The fields, in order.
    public private(set) var fields: [Field]

    /// Creates headers from fields.
    public init(_ fields: [Field] = []) { self.fields = fields }

    /// Creates headers from a literal.
    public init(dictionaryLiteral elements: (String, String)...) {
        fields = elements.map { Field(name: $0.0, value: $0.1) }
    }

    /// Appends a field.
    public mutating func add(name: String, value: String) { fields.append(Field(name: name, value: value)) }

    /// Replaces every field named `name` (case-insensitively) with one field.
    public mutating func replace(name: String, value: String) {
        fields.removeAll { $0.name.lowercased() == name.lowercased() }
        fields.append(Field(name: name, value: value))
    }

    /// The value of the first field named `name`, compared case-insensitively.
    public subscript(name: String) -> String? {
        let lowered = name.lowercased()
        return fields.first { $0.name.lowercased() == lowered }?.value
    }

    /// Iterates over the fields.
    public func makeIterator() -> IndexingIterator<[Field]> { fields.makeIterator() }

    /// Whether there are no fields.
    public var isEmpty: Bool { fields.isEmpty }

    /// Field names whose values are credentials and are never printed.
    static let sensitiveNames: Set<String> = [
        "authorization", "proxy-authorization", "cookie", "set-cookie", "dpop", "x-api-key",
    ]

    /// `name: value` lines, with credential-bearing values (`Authorization`, `Cookie`, …) shown as `<redacted>`.
    public var description: String {
        fields.map { field in
            let value = Self.sensitiveNames.contains(field.name.lowercased()) ? "<redacted>" : field.value
            return "\(field.name): \(value)"
        }.joined(separator: ", ")
    }

    /// Reflection shows the redacted ``description`` only.
    public var customMirror: Mirror { Mirror(self, children: ["fields": description], displayStyle: .struct) }
}
