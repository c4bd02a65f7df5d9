public import Foundation

/// Something that happened to a stored grant, reported to ``BrokerConfiguration/onEvent`` and
/// ``Broker/events()``. Events carry no secrets.
public struct BrokerEvent: Sendable, Hashable, CustomStringConvertible {
    /// What happened.
    public struct Kind: Hashable, Sendable, CustomStringConvertible {
        fileprivate enum Value: String, Sendable {
            case issued, refreshed, adopted
            case needsReauthorization = "needs_reauthorization"
            case revoked
        }
        fileprivate let value: Value

        /// A new token was obtained and stored (client credentials, authorization code).
        public static let issued = Kind(value: .issued)
        /// A token was refreshed; see ``BrokerEvent/rotated``.
        public static let refreshed = Kind(value: .refreshed)
        /// This broker adopted a record another writer (another process) had just stored.
        public static let adopted = Kind(value: .adopted)
        /// The grant died (`invalid_grant`); a user must authorize again. Notify the tenant.
        public static let needsReauthorization = Kind(value: .needsReauthorization)
        /// The grant was revoked.
        public static let revoked = Kind(value: .revoked)

        /// A short, fixed name, safe as a metric label.
        public var description: String { value.rawValue }
    }

    /// What happened.
    public let kind: Kind
    /// The key concerned.
    public let key: StoreKey
    /// The grant used, when a token request was made.
    public let grant: ProviderDescriptor.Grant?
    /// The stored record's version after the event.
    public let version: UInt64?
    /// For ``Kind/refreshed``: whether the provider issued a new refresh token.
    public let rotated: Bool
    /// When it happened.
    public let date: Date

    /// Creates an event.
    public init(
        kind: Kind, key: StoreKey, grant: ProviderDescriptor.Grant? = nil, version: UInt64? = nil,
        rotated: Bool = false, date: Date
    ) {
        self.kind = kind
        self.key = key
        self.grant = grant
        self.version = version
        self.rotated = rotated
        self.date = date
    }

    /// `kind key (grant, version)`.
    public var description: String {
        var text = "\(kind) \(key)"
        if let grant { text += " grant=\(grant)" }
        if let version { text += " version=\(version)" }
        if kind == .refreshed { text += " rotated=\(rotated)" }
        return text
    }
}
