extension TokenResponse {
    /// A minor field of a token response that was wrong, and what was done with it instead of rejecting the
    /// response.
    ///
    /// It names the field and the action, never the value, so it is safe to log:
    /// `"expires_in dropped: not positive"`, `"expires_in clamped: more than maximumExpiresIn"`.
    public struct Adjustment: Sendable, Hashable, CustomStringConvertible {
        /// The field as the response names it (`expires_in`, `scope`, …). An extra field's name is given as is
        /// when it has at most 64 characters and no control, format or line-separator character; otherwise
        /// ``unloggableFieldName``.
        public let field: String
        /// What was done.
        public let action: Action
        /// Why, in fixed words.
        public let reason: Reason

        /// Stands in for an extra field's name that is too long or has control characters.
        public static let unloggableFieldName = "<an extra field with a long or unprintable name>"

        /// Creates an adjustment (``TokenResponse`` makes them; tests compare with them).
        /// - Parameters:
        ///   - field: The field's name.
        ///   - action: What was done.
        ///   - reason: Why.
        public init(field: String, action: Action, reason: Reason) {
            self.field = field
            self.action = action
            self.reason = reason
        }

        /// For example `scope dropped: not a valid RFC 6749 scope list`.
        public var description: String { "\(field) \(action): \(reason)" }

        /// `name`, or ``unloggableFieldName`` when it is longer than 64 characters or has a control, format or
        /// line-separator character.
        static func loggableName(_ name: String) -> String {
            let printable = name.unicodeScalars.allSatisfy { scalar in
                switch scalar.properties.generalCategory {
                case .control, .format, .lineSeparator, .paragraphSeparator: false
                default: true
                }
            }
            return printable && name.count <= 64 ? name : unloggableFieldName
        }

        /// What was done with a wrong field.
        public struct Action: Sendable, Hashable, CustomStringConvertible {
            private enum Value: Sendable, Hashable {
                case dropped
                case clamped
            }

            private let value: Value

            private init(_ value: Value) { self.value = value }

            /// The field was left out, as if the provider had not sent it.
            public static let dropped = Action(.dropped)
            /// The value was replaced by the nearest allowed one (``TokenResponse/maximumExpiresIn``).
            public static let clamped = Action(.clamped)

            /// `dropped` or `clamped`.
            public var description: String {
                switch value {
                case .dropped: "dropped"
                case .clamped: "clamped"
                }
            }
        }

        /// Why a field was adjusted. The set may grow; compare with the static members.
        public struct Reason: Sendable, Hashable, CustomStringConvertible {
            private enum Value: Sendable, Hashable {
                case notANumber
                case boolean
                case notPositive
                case notAWholeNumber
                case tooLarge
                case notAString
                case empty
                case invalidScope
                case numberOutOfRange
                case nestedTooDeep
            }

            private let value: Value

            private init(_ value: Value) { self.value = value }

            /// Neither a number nor a numeric string.
            public static let notANumber = Reason(.notANumber)
            /// A boolean where a number belongs.
            public static let boolean = Reason(.boolean)
            /// Zero or negative.
            public static let notPositive = Reason(.notPositive)
            /// A number with a fraction.
            public static let notAWholeNumber = Reason(.notAWholeNumber)
            /// More than ``TokenResponse/maximumExpiresIn``.
            public static let tooLarge = Reason(.tooLarge)
            /// Not a string where a string belongs.
            public static let notAString = Reason(.notAString)
            /// An empty string.
            public static let empty = Reason(.empty)
            /// A string outside the RFC 6749 §3.3 scope grammar.
            public static let invalidScope = Reason(.invalidScope)
            /// Holds a number outside the range of `Double`, which cannot be stored.
            public static let numberOutOfRange = Reason(.numberOutOfRange)
            /// Nested deeper than ``JSONValue/maximumDepth`` allows, which cannot be stored.
            public static let nestedTooDeep = Reason(.nestedTooDeep)

            /// Fixed words, never a value.
            public var description: String {
                switch value {
                case .notANumber: "not a number"
                case .boolean: "a boolean, not a number"
                case .notPositive: "not positive"
                case .notAWholeNumber: "not a whole number"
                case .tooLarge: "more than maximumExpiresIn (\(TokenResponse.maximumExpiresIn) seconds)"
                case .notAString: "not a string"
                case .empty: "empty"
                case .invalidScope: "not a valid RFC 6749 scope list"
                case .numberOutOfRange: "holds a number outside the range of a double"
                case .nestedTooDeep: "nested deeper than \(JSONValue.maximumDepth) levels"
                }
            }
        }
    }
}
