/// A normalized set of OAuth scopes: deduplicated, sorted, each a valid RFC 6749 §3.3 `scope-token`.
///
/// The normalized form (``normalized``, scopes joined by one space) is what ``StoreKey`` fingerprints, so
/// `["b", "a", "a"]` and `["a", "b"]` name the same token.
public struct ScopeSet: Hashable, Sendable, Codable, CustomStringConvertible, ExpressibleByArrayLiteral {
    /// The scopes, sorted by their UTF-8 bytes and without duplicates.
    public let scopes: [String]

    /// The empty scope set: the provider's default scope.
    public static let empty = ScopeSet(validated: [])

    /// Validates, deduplicates and sorts `scopes`.
    ///
    /// - Throws: ``BrokerError`` (``BrokerError/Code/invalidInput``) for an empty entry or a character outside
    ///   RFC 6749's `scope-token` grammar (`%x21 / %x23-5B / %x5D-7E`).
    public init(_ scopes: some Sequence<String>) throws {
        var unique = Set<String>()
        for scope in scopes {
            try Self.validate(scope)
            unique.insert(scope)
        }
        self.init(validated: Array(unique))
    }

    /// Parses a delimited scope string as a provider sends it, ignoring repeated delimiters.
    ///
    /// - Parameters:
    ///   - string: For example `"read write"`.
    ///   - delimiter: The provider's delimiter; a space by RFC 6749, a comma for some providers.
    /// - Throws: ``BrokerError`` (``BrokerError/Code/invalidInput``) for an invalid scope token.
    public init(parsing string: String, delimiter: Character = " ") throws {
        try self.init(string.split(separator: delimiter, omittingEmptySubsequences: true).map(String.init))
    }

    /// Builds a set from a literal. Traps on invalid scopes, as a literal is a programming error.
    public init(arrayLiteral elements: String...) {
        do { try self.init(elements) } catch { preconditionFailure("invalid scope literal: \(error)") }
    }

    private init(validated: [String]) {
        scopes = validated.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
    }

    /// Decodes and validates a scope array.
    public init(from decoder: any Decoder) throws {
        let raw = try decoder.singleValueContainer().decode([String].self)
        do { try self.init(raw) } catch {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "\(error)"))
        }
    }

    /// Encodes the sorted scope array.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(scopes)
    }

    /// The scopes joined by a single space: the canonical form that ``StoreKey`` fingerprints.
    public var normalized: String { scopes.joined(separator: " ") }

    /// The scopes joined by `delimiter`, as a request parameter.
    public func joined(by delimiter: Character) -> String { scopes.joined(separator: String(delimiter)) }

    /// Whether there are no scopes.
    public var isEmpty: Bool { scopes.isEmpty }

    /// Whether every scope of `other` is in this set.
    public func isSuperset(of other: ScopeSet) -> Bool { Set(scopes).isSuperset(of: other.scopes) }

    /// The normalized form.
    public var description: String { normalized }

    private static func validate(_ scope: String) throws {
        guard !scope.isEmpty else { throw BrokerError(.invalidInput, "a scope must not be empty") }
        for byte in scope.utf8 {
            let valid = byte == 0x21 || (0x23...0x5B).contains(byte) || (0x5D...0x7E).contains(byte)
            guard valid else {
                throw BrokerError(.invalidInput, "scope contains a character outside RFC 6749 scope-token")
            }
        }
    }
}
