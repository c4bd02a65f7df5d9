public import Foundation
public import OAuthBroker

/// What `oauth-broker list` shows about one stored record: its key, status, expiry and version — never a token.
public struct RecordSummary: Sendable, Hashable, Encodable {
    /// The key's ``OAuthBroker/StoreKey/storageID`` (`provider:tenant:principal:scope-fingerprint`).
    public var key: String
    /// The key's ``OAuthBroker/StoreKey/redactedDescription`` (`provider/tenant/principal/fingerprint-prefix`).
    public var shortKey: String
    /// The provider ID.
    public var provider: String
    /// The tenant ID.
    public var tenant: String
    /// The principal ID.
    public var principal: String
    /// The scopes of the key (the requested ones, normalized).
    public var scopes: [String]
    /// The scopes the provider granted.
    public var grantedScopes: [String]
    /// `active`, `revoked` or `needs_reauthorization`.
    public var status: String
    /// Whether the access token has expired (at the time of listing).
    public var isExpired: Bool
    /// When the access token expires, if known.
    public var expiresAt: Date?
    /// The record's compare-and-swap version.
    public var version: UInt64
    /// Whether a refresh token is stored (the token itself never is shown).
    public var hasRefreshToken: Bool

    /// Summarises `record`, stored under `key`.
    ///
    /// - Parameters:
    ///   - record: The record.
    ///   - key: Its key.
    ///   - now: The instant used to decide ``isExpired``.
    public init(record: TokenRecord, key: StoreKey, now: Date = Date()) {
        self.key = key.storageID
        shortKey = key.redactedDescription
        provider = key.provider.rawValue
        tenant = key.tenant.rawValue
        principal = key.principal.rawValue
        scopes = key.scopes.scopes
        grantedScopes = record.scopes.scopes
        status = record.status.rawValue
        isExpired = record.isExpired(at: now)
        expiresAt = record.expiresAt
        version = record.version
        hasRefreshToken = record.refreshToken != nil
    }

    /// Reads every record of `store` (or only `tenant`'s), in ``OAuthBroker/StoreKey/storageID`` order.
    ///
    /// A key whose record disappears between the listing and the read is skipped.
    ///
    /// - Parameters:
    ///   - store: The store.
    ///   - tenant: Only this tenant's records, or all when `nil`.
    ///   - now: The instant used to decide ``isExpired``.
    /// - Returns: The summaries.
    /// - Throws: What the store throws.
    public static func all(
        in store: any BrokerStore, tenant: TenantID? = nil, now: Date = Date()
    ) async throws -> [RecordSummary] {
        var summaries: [RecordSummary] = []
        for key in try await store.keys(tenant: tenant) {
            guard let record = try await store.record(for: key) else { continue }
            summaries.append(RecordSummary(record: record, key: key, now: now))
        }
        return summaries
    }

    private enum CodingKeys: String, CodingKey {
        case key, provider, tenant, principal, scopes
        case grantedScopes = "granted_scopes"
        case status, expired
        case expiresAt = "expires_at"
        case version
        case hasRefreshToken = "has_refresh_token"
    }

    /// Encodes the JSON form `oauth-broker list --format json` prints (`expires_at` in RFC 3339, or `null`).
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(key, forKey: .key)
        try container.encode(provider, forKey: .provider)
        try container.encode(tenant, forKey: .tenant)
        try container.encode(principal, forKey: .principal)
        try container.encode(scopes, forKey: .scopes)
        try container.encode(grantedScopes, forKey: .grantedScopes)
        try container.encode(status, forKey: .status)
        try container.encode(isExpired, forKey: .expired)
        if let expiresAt {
            try container.encode(RFC3339.string(from: expiresAt), forKey: .expiresAt)
        } else {
            try container.encodeNil(forKey: .expiresAt)
        }
        try container.encode(version, forKey: .version)
        try container.encode(hasRefreshToken, forKey: .hasRefreshToken)
    }

    /// An aligned text table of `summaries` with the columns KEY, TENANT, PRINCIPAL, SCOPES, STATUS, EXPIRES_AT
    /// and VERSION; STATUS reads `active (expired)` for an active record past its expiry.
    ///
    /// - Parameter summaries: The rows.
    /// - Returns: The table, one line per row after a header line, each ending in a newline.
    public static func table(_ summaries: [RecordSummary]) -> String {
        let header = ["KEY", "TENANT", "PRINCIPAL", "SCOPES", "STATUS", "EXPIRES_AT", "VERSION"]
        let rows = summaries.map { summary in
            [
                summary.shortKey, summary.tenant, summary.principal,
                summary.scopes.isEmpty ? "-" : summary.scopes.joined(separator: " "),
                summary.status + (summary.isExpired && summary.status == "active" ? " (expired)" : ""),
                summary.expiresAt.map(RFC3339.string(from:)) ?? "-", String(summary.version),
            ]
        }
        var widths = header.map(\.count)
        for row in rows {
            for (index, cell) in row.enumerated() { widths[index] = max(widths[index], cell.count) }
        }
        func line(_ cells: [String]) -> String {
            var text = ""
            for (index, cell) in cells.enumerated() {
                let isLast = index == cells.count - 1
                text += isLast ? cell : cell.padding(toLength: widths[index] + 2, withPad: " ", startingAt: 0)
            }
            return text + "\n"
        }
        return ([header] + rows).map(line).joined()
    }

    /// `summaries` as a pretty-printed JSON array with sorted keys, ending in a newline.
    ///
    /// - Parameter summaries: The rows.
    /// - Returns: The JSON text.
    public static func json(_ summaries: [RecordSummary]) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        // Encoding strings, numbers and booleans cannot fail.
        let data = (try? encoder.encode(summaries)) ?? Data("[]".utf8)
        return String(decoding: data, as: UTF8.self) + "\n"
    }
}

/// RFC 3339 timestamps in UTC with whole seconds (`2025-01-31T12:00:00Z`), as the command line prints them.
public enum RFC3339 {
    /// Formats `date`.
    ///
    /// - Parameter date: The instant.
    /// - Returns: For example `2025-01-31T12:00:00Z`.
    public static func string(from date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(timeZone: TimeZone(identifier: "UTC")!))
    }
}
