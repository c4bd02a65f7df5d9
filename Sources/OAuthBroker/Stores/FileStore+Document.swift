import Foundation

/// The whole content of a ``FileStore`` file, format version 1.
///
/// ```json
/// {
///   "format": "oauth-broker-file-store",
///   "format_version": 1,
///   "records": {
///     "<storageID>": {"key": {"provider": "p", "tenant": "t", "principal": "u", "scopes": ["read"]},
///                     "version": 1831975315128321, "blob": "<base64 of the StoreCodec record blob>"}
///   },
///   "sessions": {
///     "<session id>": {"expires_at": 799996700.5, "blob": "<base64 of the StoreCodec session blob>"}
///   },
///   "leases": {
///     "<storageID>": {"owner": "<LeaseOwner>", "expires_at_ms": 1712345678901}
///   }
/// }
/// ```
/// - `records` is keyed by ``StoreKey/storageID``; `version` repeats the record's version so compare-and-swap
///   need not decode (a mismatch with the blob is corruption).
/// - `sessions.*.expires_at`: seconds since 2001-01-01T00:00:00Z (as in ``JSONStoreCodec``), kept outside the
///   blob so expired sessions can be purged without decoding (a sealing codec would need a key to decode).
/// - `leases.*.expires_at_ms`: wall-clock milliseconds since 1970-01-01T00:00:00Z.
/// - Blobs are whatever the store's ``StoreCodec`` produced, base64-encoded (RFC 4648 §4, padded).
struct FileDocument: Codable, Sendable {
    static let formatName = "oauth-broker-file-store"
    static let formatVersion = 1

    struct RecordEntry: Codable, Sendable {
        var key: StoreKey
        var version: UInt64
        var blob: String
    }

    struct SessionEntry: Codable, Sendable {
        var expiresAt: Double
        var blob: String

        enum CodingKeys: String, CodingKey {
            case expiresAt = "expires_at"
            case blob
        }
    }

    struct LeaseEntry: Codable, Sendable {
        var owner: String
        var expiresAtMillis: Int64

        enum CodingKeys: String, CodingKey {
            case owner
            case expiresAtMillis = "expires_at_ms"
        }
    }

    var format = FileDocument.formatName
    var formatVersion = FileDocument.formatVersion
    var records: [String: RecordEntry] = [:]
    var sessions: [String: SessionEntry] = [:]
    var leases: [String: LeaseEntry] = [:]

    enum CodingKeys: String, CodingKey {
        case format
        case formatVersion = "format_version"
        case records, sessions, leases
    }

    init() {}

    /// Only the header, read first so a file from a newer release is refused without being called corrupt.
    struct Header: Decodable {
        let format: String
        let formatVersion: Int

        enum CodingKeys: String, CodingKey {
            case format
            case formatVersion = "format_version"
        }
    }

    /// Why a file could not be decoded.
    enum DecodeFailure: Error {
        /// Not a format-1 document: quarantine it.
        case corrupt
        /// A well-formed document of a newer format: leave it alone.
        case newerFormat(Int)
    }

    static func decode(_ bytes: [UInt8]) throws(DecodeFailure) -> FileDocument {
        let data = Data(bytes)
        guard let header = try? JSONDecoder().decode(Header.self, from: data), header.format == formatName else {
            throw .corrupt
        }
        guard header.formatVersion <= formatVersion else { throw .newerFormat(header.formatVersion) }
        guard header.formatVersion == formatVersion,
            var document = try? JSONDecoder().decode(FileDocument.self, from: data),
            document.sessions.values.allSatisfy({ $0.expiresAt.isFinite })
        else { throw .corrupt }
        try document.moveLegacyEntries()
        return document
    }

    /// Moves records an earlier release stored under a key's ``StoreKey/legacyStorageID`` (keys with non-ASCII
    /// components, escaped per `Character`) to their byte-exact ``StoreKey/storageID``; the file is rewritten with
    /// the new IDs at its next write. A record already present under the new ID is newer and wins. Leases under a
    /// non-ASCII ID are dropped: they are seconds long and no process of this release holds them.
    /// - Throws: `.corrupt` for a record filed under an ID that is neither of its key's.
    private mutating func moveLegacyEntries() throws(DecodeFailure) {
        for (id, entry) in records where id != entry.key.storageID {
            guard entry.key.hasLegacyStorageID, id == entry.key.legacyStorageID else { throw .corrupt }
            records[id] = nil
            if records[entry.key.storageID] == nil { records[entry.key.storageID] = entry }
        }
        for id in leases.keys where !id.utf8.allSatisfy({ $0 < 0x80 }) { leases[id] = nil }
    }

    func encoded() throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        do { return Array(try encoder.encode(self)) } catch {
            throw BrokerError(.storeFailed, "the file store document could not be encoded")
        }
    }
}

extension FileDocument.RecordEntry {
    init(_ record: TokenRecord, key: StoreKey, codec: any StoreCodec) throws {
        self.key = key
        version = record.version
        blob = Data(try codec.encode(record, for: key)).base64EncodedString()
    }

    func decode(codec: any StoreCodec) throws -> TokenRecord {
        guard let bytes = Data(base64Encoded: blob) else {
            throw BrokerError(.storeCorrupted, "a file store record blob is not base64", key: key)
        }
        let record = try codec.decodeRecord(Array(bytes), for: key)
        guard record.version == version else {
            throw BrokerError(.storeCorrupted, "a file store record's version disagrees with its blob", key: key)
        }
        return record
    }
}

extension FileDocument.SessionEntry {
    init(_ session: AuthorizationSession, codec: any StoreCodec) throws {
        expiresAt = session.expiresAt.timeIntervalSinceReferenceDate
        blob = Data(try codec.encode(session)).base64EncodedString()
    }

    func isExpired(at instant: Date) -> Bool { instant.timeIntervalSinceReferenceDate >= expiresAt }

    func decode(id: String, codec: any StoreCodec) throws -> AuthorizationSession {
        guard let bytes = Data(base64Encoded: blob) else {
            throw BrokerError(.storeCorrupted, "a file store session blob is not base64")
        }
        return try codec.decodeSession(Array(bytes), id: id)
    }
}

extension FileDocument.LeaseEntry {
    static func millis(_ instant: Date) -> Int64 { Int64((instant.timeIntervalSince1970 * 1000).rounded(.down)) }

    /// Milliseconds since 1970 rounded up: lease expiries, so a lease never ends before its time-to-live.
    static func millisRoundedUp(_ instant: Date) -> Int64 {
        Int64((instant.timeIntervalSince1970 * 1000).rounded(.up))
    }
}
