import Foundation

/// Turns token records and authorization sessions into bytes and back, for stores that persist them
/// (``FileStore``, `SQLiteStore`, `RedisStore`).
///
/// Every store funnels records and sessions through one codec, so a different byte format (for example an
/// AES-GCM sealing codec that encrypts tokens at rest under a key id) slots in without touching any store.
/// The store key (for records) or the session id (for sessions) is passed to every call so a sealing codec can
/// bind the bytes to where they are stored (as AES-GCM additional authenticated data): a blob copied under
/// another key then fails to decode instead of leaking one principal's token to another.
///
/// ## Format versions
/// Every blob says which format it is in. ``JSONStoreCodec`` writes JSON objects, so its blobs start with `{`
/// (0x7B); a binary format must start with a different first byte (a format tag), so a codec can recognise
/// blobs written by an older codec and migrate them on read.
///
/// - Important: A codec never puts stored bytes (which contain tokens) into an error: decoding failures throw
///   ``BrokerError`` with code ``BrokerError/Code/storeCorrupted`` and a fixed message.
public protocol StoreCodec: Sendable {
    /// Encodes a record stored under `key`.
    /// - Parameters:
    ///   - record: The record, including its ``TokenRecord/version``.
    ///   - key: Where the record is stored.
    /// - Returns: The bytes to store.
    /// - Throws: ``BrokerError`` (``BrokerError/Code/storeFailed``) if the record cannot be encoded.
    func encode(_ record: TokenRecord, for key: StoreKey) throws -> [UInt8]

    /// Decodes a record read from under `key`.
    /// - Parameters:
    ///   - bytes: What ``encode(_:for:)`` produced.
    ///   - key: Where the bytes were read from.
    /// - Returns: The record.
    /// - Throws: ``BrokerError`` (``BrokerError/Code/storeCorrupted``) for garbage, a truncated blob or an
    ///   unknown format version.
    func decodeRecord(_ bytes: [UInt8], for key: StoreKey) throws -> TokenRecord

    /// Encodes an authorization session; the session's ``AuthorizationSession/id`` is where it is stored.
    /// - Parameter session: The session.
    /// - Returns: The bytes to store.
    /// - Throws: ``BrokerError`` (``BrokerError/Code/storeFailed``) if the session cannot be encoded.
    func encode(_ session: AuthorizationSession) throws -> [UInt8]

    /// Decodes a session read from under `id`.
    /// - Parameters:
    ///   - bytes: What ``encode(_:)`` produced.
    ///   - id: The session id the bytes were stored under; a decoded session whose id differs is rejected.
    /// - Returns: The session.
    /// - Throws: ``BrokerError`` (``BrokerError/Code/storeCorrupted``) for garbage, an unknown format version,
    ///   or a session that does not belong to `id`.
    func decodeSession(_ bytes: [UInt8], id: String) throws -> AuthorizationSession
}

/// The default ``StoreCodec``: a versioned JSON envelope, format version 1, stored in the clear.
///
/// ## Record blob, format 1
/// A UTF-8 JSON object with sorted keys:
/// ```json
/// {"record":{"access_token":"…","expires_at":800000000.123,"extra":{"foo":1},"id_token":"…",
///            "issued_at":799996400.5,"refresh_token":"…","scopes":["a","b"],"status":"active",
///            "token_type":"Bearer","version":1831975315128320},"v":1}
/// ```
/// - `v`: the format version, `1`. Any other value is rejected as ``BrokerError/Code/storeCorrupted``.
/// - `access_token`, `token_type`, `scopes` (sorted array), `status` (`active`, `revoked`,
///   `needs_reauthorization`, or an unknown string kept as is), `version` (unsigned 64-bit integer): always present.
/// - `refresh_token`, `id_token`, `expires_at`: omitted when absent. `extra`: the provider's extra response
///   fields, an object (possibly empty).
/// - Dates (`issued_at`, `expires_at`) are JSON numbers: seconds since 2001-01-01T00:00:00Z (Foundation's
///   reference date), written as the shortest decimal that round-trips the IEEE-754 double, so a decoded `Date`
///   equals the encoded one exactly. Add 978307200 for Unix seconds.
///
/// ## Session blob, format 1
/// ```json
/// {"session":{"code_verifier":"…","created_at":799996400.5,"expires_at":799996700.5,
///             "key":{"principal":"u","provider":"p","scopes":["a"],"tenant":"t"},
///             "redirect_uri":"https://app/cb","state":"…"},"v":1}
/// ```
/// The session id is not stored: it is recomputed from `state` (SHA-256) and must equal the id the blob was
/// stored under.
///
/// ## Implementation
/// The codec reads and writes this fixed shape with the core's own JSON reader and writer (no `Codable`,
/// no `JSONSerialization`; the reader is the one that also parses token responses): decoding a record is a single
/// pass over the bytes. It writes the same bytes Foundation's `JSONEncoder` (sorted keys, unescaped slashes)
/// wrote for this format, and reads everything that encoder wrote; members it does not know are skipped, as
/// before (their syntax is checked, their numbers only against the grammar).
///
/// The `extra` object is read and written as if it were a document of its own, the token-response object it
/// came from: its fields may nest up to ``JSONValue/maximumDepth`` levels counting `extra` as level 1, exactly
/// what ``TokenResponse`` keeps. A deeper field is refused when encoding, so no record is stored unreadable.
///
/// A sealed blob (``SealingStoreCodec``'s) is refused with ``BrokerError/Code/sealingKeyMissing`` naming its key
/// id: a store that was sealed must be opened with the keys.
///
/// - Important: Tokens are stored in plain text. Protect the store (file mode `0600`, database and Redis access
///   control), or use ``SealingStoreCodec``.
public struct JSONStoreCodec: StoreCodec {
    /// The format version this codec writes and reads: `1`.
    public static let formatVersion = 1

    /// Creates the codec.
    public init() {}

    /// Encodes a record as a format-1 JSON envelope.
    /// - Parameters:
    ///   - record: The record.
    ///   - key: Where it is stored (unused by this codec: JSON binds nothing to the key).
    /// - Returns: UTF-8 JSON.
    /// - Throws: ``BrokerError`` (``BrokerError/Code/storeFailed``) when a date or an extra field holds a
    ///   non-finite number, or an extra field nests deeper than ``JSONValue/maximumDepth`` allows.
    public func encode(_ record: TokenRecord, for key: StoreKey) throws -> [UInt8] {
        var writer = JSONWriter(capacity: 320 + record.accessToken.revealedValue.utf8.count)
        guard writer.writeRecordEnvelope(record) else {
            throw BrokerError(
                .storeFailed, "record could not be encoded (a non-finite number, or an extra field nested too deep?)",
                key: key)
        }
        return writer.bytes
    }

    /// Decodes a format-1 record envelope.
    /// - Parameters:
    ///   - bytes: UTF-8 JSON.
    ///   - key: Where the bytes were read from (named, redacted, in errors).
    /// - Returns: The record.
    /// - Throws: ``BrokerError`` (``BrokerError/Code/storeCorrupted``).
    public func decodeRecord(_ bytes: [UInt8], for key: StoreKey) throws -> TokenRecord {
        try bytes.withUnsafeBufferPointer { buffer in
            let body = try Self.envelopeBody(buffer, member: "record", what: "record", key: key)
            var reader = JSONReader(buffer, at: body)
            do {
                return try reader.readRecord()
            } catch {
                // Nothing from the reader reaches the message: it could quote stored bytes.
                throw BrokerError(.storeCorrupted, "stored record is not a valid format-1 record", key: key)
            }
        }
    }

    /// Encodes a session as a format-1 JSON envelope.
    /// - Parameter session: The session.
    /// - Returns: UTF-8 JSON.
    /// - Throws: ``BrokerError`` (``BrokerError/Code/storeFailed``) if encoding fails (a non-finite date).
    public func encode(_ session: AuthorizationSession) throws -> [UInt8] {
        var writer = JSONWriter(capacity: 384)
        guard writer.writeSessionEnvelope(session) else {
            throw BrokerError(.storeFailed, "session could not be encoded (a non-finite number?)")
        }
        return writer.bytes
    }

    /// Decodes a format-1 session envelope and checks it belongs to `id`.
    /// - Parameters:
    ///   - bytes: UTF-8 JSON.
    ///   - id: The id the bytes were stored under.
    /// - Returns: The session.
    /// - Throws: ``BrokerError`` (``BrokerError/Code/storeCorrupted``).
    public func decodeSession(_ bytes: [UInt8], id: String) throws -> AuthorizationSession {
        let session = try bytes.withUnsafeBufferPointer { buffer in
            let body = try Self.envelopeBody(buffer, member: "session", what: "session", key: nil)
            var reader = JSONReader(buffer, at: body)
            do {
                return try reader.readSession()
            } catch {
                throw BrokerError(.storeCorrupted, "stored session is not a valid format-1 session")
            }
        }
        guard session.id == id else {
            throw BrokerError(.storeCorrupted, "stored session does not belong to the id it is stored under")
        }
        return session
    }

    /// Reads the envelope (the whole document must be valid JSON), checks `v`, and returns the offset of the
    /// `member` value (`-1` when the envelope has none, which the body reader then rejects).
    private static func envelopeBody(
        _ buffer: UnsafeBufferPointer<UInt8>, member: String, what: String, key: StoreKey?
    ) throws -> Int {
        if buffer.first == SealingStoreCodec.formatTag, let id = try? SealingStoreCodec.keyID(ofBlob: Array(buffer)) {
            throw BrokerError(
                .sealingKeyMissing,
                "stored \(what) is sealed under key id '\(id)'; open the store with a SealingStoreCodec that has it",
                key: key)
        }
        var reader = JSONReader(buffer, at: 0)
        var version: Int?
        var body = -1
        do {
            guard buffer.first == UInt8(ascii: "{") else { throw JSONReader.Malformed() }
            try reader.readObject { reader, name in
                if name == "v" {
                    version = try reader.readInt()
                } else if name == member {
                    // Unbounded here: the body's own reader bounds what may nest (`extra` counts as level 1).
                    body = reader.offset
                    try reader.skipValue(levels: .max)
                } else {
                    try reader.skipValue()
                }
            }
            try reader.readEnd()
        } catch {
            throw BrokerError(.storeCorrupted, "stored \(what) is not a JSON envelope", key: key)
        }
        guard let version else {
            throw BrokerError(.storeCorrupted, "stored \(what) is not a JSON envelope", key: key)
        }
        guard version == formatVersion else {
            throw BrokerError(.storeCorrupted, "stored \(what) has unsupported format version \(version)", key: key)
        }
        return body
    }
}

// MARK: - Format 1 field names (they are the on-disk format: never rename them)

extension JSONReader {
    /// Reads a format-1 record object at the current offset.
    fileprivate mutating func readRecord() throws -> TokenRecord {
        var accessToken: String?
        var refreshToken: String?
        var tokenType: String?
        var scopes: ScopeSet?
        var issuedAt: Double?
        var expiresAt: Double?
        var idToken: String?
        var extra: [String: JSONValue]?
        var version: UInt64?
        var status: String?
        try readObject { reader, name in
            switch name {
            case "access_token": accessToken = try reader.readString()
            case "refresh_token": refreshToken = try reader.readOptional { try $0.readString() }
            case "token_type": tokenType = try reader.readString()
            case "scopes": scopes = try reader.readScopes()
            case "issued_at": issuedAt = try reader.readDouble()
            case "expires_at": expiresAt = try reader.readOptional { try $0.readDouble() }
            case "id_token": idToken = try reader.readOptional { try $0.readString() }
            case "extra": extra = try reader.readOptional { try $0.readObjectValue(level: 1) }
            case "version": version = try reader.readUInt64()
            case "status": status = try reader.readString()
            default: try reader.skipValue()
            }
        }
        guard let accessToken, let tokenType, let scopes, let issuedAt, let version, let status else {
            throw Malformed()
        }
        return TokenRecord(
            accessToken: Secret(accessToken), refreshToken: refreshToken.map(Secret.init), tokenType: tokenType,
            scopes: scopes, issuedAt: Date(timeIntervalSinceReferenceDate: issuedAt),
            expiresAt: expiresAt.map { Date(timeIntervalSinceReferenceDate: $0) }, idToken: idToken.map(Secret.init),
            extraFields: extra ?? [:], version: version, status: TokenRecord.Status(rawValue: status))
    }

    /// Reads a format-1 session object at the current offset.
    fileprivate mutating func readSession() throws -> AuthorizationSession {
        var state: String?
        var codeVerifier: String?
        var redirectURI: String?
        var key: StoreKey?
        var createdAt: Double?
        var expiresAt: Double?
        try readObject { reader, name in
            switch name {
            case "state": state = try reader.readString()
            case "code_verifier": codeVerifier = try reader.readString()
            case "redirect_uri": redirectURI = try reader.readString()
            case "key": key = try reader.readStoreKey()
            case "created_at": createdAt = try reader.readDouble()
            case "expires_at": expiresAt = try reader.readDouble()
            default: try reader.skipValue()
            }
        }
        guard let state, let codeVerifier, let redirectURI, let key, let createdAt, let expiresAt else {
            throw Malformed()
        }
        return AuthorizationSession(
            state: Secret(state), codeVerifier: Secret(codeVerifier), redirectURI: redirectURI, key: key,
            createdAt: Date(timeIntervalSinceReferenceDate: createdAt),
            expiresAt: Date(timeIntervalSinceReferenceDate: expiresAt))
    }

    private mutating func readStoreKey() throws -> StoreKey {
        var provider: String?
        var tenant: String?
        var principal: String?
        var scopes: ScopeSet?
        try readObject { reader, name in
            switch name {
            case "provider": provider = try reader.readString()
            case "tenant": tenant = try reader.readString()
            case "principal": principal = try reader.readString()
            case "scopes": scopes = try reader.readScopes()
            default: try reader.skipValue()
            }
        }
        guard let provider, let tenant, let principal, let scopes else { throw Malformed() }
        return StoreKey(
            provider: try ProviderID(provider), tenant: try TenantID(tenant), principal: try PrincipalID(principal),
            scopes: scopes)
    }

    private mutating func readScopes() throws -> ScopeSet {
        var scopes: [String] = []
        try readArray { scopes.append(try $0.readString()) }
        return try ScopeSet(scopes)
    }
}

extension JSONWriter {
    /// Writes `{"record":{…},"v":1}`; `false` if a number is not finite or an extra field nests too deep.
    fileprivate mutating func writeRecordEnvelope(_ record: TokenRecord) -> Bool {
        raw(#"{"record":{"access_token":"#)
        string(record.accessToken.revealedValue)
        if let expiresAt = record.expiresAt {
            raw(#","expires_at":"#)
            guard number(expiresAt.timeIntervalSinceReferenceDate) else { return false }
        }
        raw(#","extra":"#)
        guard object(record.extraFields, level: 1) else { return false }
        if let idToken = record.idToken {
            raw(#","id_token":"#)
            string(idToken.revealedValue)
        }
        raw(#","issued_at":"#)
        guard number(record.issuedAt.timeIntervalSinceReferenceDate) else { return false }
        if let refreshToken = record.refreshToken {
            raw(#","refresh_token":"#)
            string(refreshToken.revealedValue)
        }
        raw(#","scopes":"#)
        strings(record.scopes.scopes)
        raw(#","status":"#)
        string(record.status.rawValue)
        raw(#","token_type":"#)
        string(record.tokenType)
        raw(#","version":"#)
        raw(String(record.version))
        raw(#"},"v":1}"#)
        return true
    }

    /// Writes `{"session":{…},"v":1}`; `false` if a date is not finite.
    fileprivate mutating func writeSessionEnvelope(_ session: AuthorizationSession) -> Bool {
        raw(#"{"session":{"code_verifier":"#)
        string(session.codeVerifier.revealedValue)
        raw(#","created_at":"#)
        guard number(session.createdAt.timeIntervalSinceReferenceDate) else { return false }
        raw(#","expires_at":"#)
        guard number(session.expiresAt.timeIntervalSinceReferenceDate) else { return false }
        raw(#","key":{"principal":"#)
        string(session.key.principal.rawValue)
        raw(#","provider":"#)
        string(session.key.provider.rawValue)
        raw(#","scopes":"#)
        strings(session.key.scopes.scopes)
        raw(#","tenant":"#)
        string(session.key.tenant.rawValue)
        raw(#"},"redirect_uri":"#)
        string(session.redirectURI)
        raw(#","state":"#)
        string(session.state.revealedValue)
        raw(#"},"v":1}"#)
        return true
    }
}
