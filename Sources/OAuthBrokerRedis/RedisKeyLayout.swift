import OAuthBroker

/// The Redis key names a ``RedisStore`` uses, all under ``RedisStore/Configuration/keyPrefix`` (`P` below):
///
/// | key | type | contents |
/// |---|---|---|
/// | `P` `record:{` storageID `}` | hash | fields `key` (StoreKey JSON), `record` (blob), `version`, `status` |
/// | `P` `lease:{` storageID `}` | string | the lease owner, with a `PX` time-to-live |
/// | `P` `session:` id | string | the codec's session blob, with a `PX` time-to-live at its expiry |
/// | `P` `sessions` | sorted set | session ids scored by expiry (Unix milliseconds), for purging |
///
/// The braces are Redis Cluster hash tags: a record and its lease hash to the same slot (the prefix has no braces,
/// so the tag is always the storage ID, or the part of it before a `}` it contains, identical in both names).
struct RedisKeyLayout: Sendable {
    let prefix: String

    func record(_ key: StoreKey) -> [UInt8] { Array("\(prefix)record:{\(key.storageID)}".utf8) }
    /// The record name an earlier release used for a key with non-ASCII components (see
    /// ``OAuthBroker/StoreKey/legacyStorageID``).
    func legacyRecord(_ key: StoreKey) -> [UInt8] { Array("\(prefix)record:{\(key.legacyStorageID)}".utf8) }
    func lease(_ key: StoreKey) -> [UInt8] { Array("\(prefix)lease:{\(key.storageID)}".utf8) }
    func session(_ id: String) -> [UInt8] { Array("\(prefix)session:\(id)".utf8) }
    var sessionIndex: [UInt8] { Array("\(prefix)sessions".utf8) }

    /// The `SCAN MATCH` pattern for record hashes, of one tenant or all.
    ///
    /// Glob characters in the prefix and tenant are escaped. The tenant pattern `*:<tenant>:*` can also match a
    /// key whose principal has the tenant's spelling, so callers filter the decoded keys again.
    func recordPattern(tenant: TenantID?) -> [UInt8] {
        recordPattern(escapedTenant: tenant.map { StoreKey.escapedComponent($0.rawValue) })
    }

    /// The patterns that find every record of `tenant` (or all records): ``recordPattern(tenant:)``, and for a
    /// non-ASCII tenant also the pattern of the names an earlier release gave its records (see
    /// ``OAuthBroker/StoreKey/legacyStorageID``).
    func recordPatterns(tenant: TenantID?) -> [[UInt8]] {
        guard let tenant, !tenant.rawValue.utf8.allSatisfy({ $0 < 0x80 }) else {
            return [recordPattern(tenant: tenant)]
        }
        return [
            recordPattern(tenant: tenant),
            recordPattern(escapedTenant: StoreKey.legacyEscapedComponent(tenant.rawValue)),
        ]
    }

    private func recordPattern(escapedTenant: String?) -> [UInt8] {
        var pattern = Self.globEscaped(prefix) + "record:{"
        if let escapedTenant { pattern += "*:" + Self.globEscaped(escapedTenant) + ":" }
        return Array((pattern + "*").utf8)
    }

    /// The storage ID embedded in a record key name, or `nil` when the name does not have the record form.
    func storageID(inRecordKey name: [UInt8]) -> String? {
        let head = Array("\(prefix)record:{".utf8)
        guard name.count > head.count + 1, name.starts(with: head), name.last == UInt8(ascii: "}") else { return nil }
        return String(decoding: name[head.count..<(name.count - 1)], as: UTF8.self)
    }

    /// Escapes Redis glob metacharacters with a backslash.
    private static func globEscaped(_ text: String) -> String {
        var out = ""
        for character in text {
            if "*?[]\\^".contains(character) { out.append("\\") }
            out.append(character)
        }
        return out
    }
}
