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
/// - Important: Tokens are stored in plain text. Protect the store (file mode `0600`, database and Redis access
///   control), or use a sealing codec.
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
    /// - Throws: ``BrokerError`` (``BrokerError/Code/storeFailed``) when an extra field holds a non-finite number.
    public func encode(_ record: TokenRecord, for key: StoreKey) throws -> [UInt8] {
        try Self.encode(RecordEnvelope(v: Self.formatVersion, record: RecordV1(record)), what: "record", key: key)
    }

    /// Decodes a format-1 record envelope.
    /// - Parameters:
    ///   - bytes: UTF-8 JSON.
    ///   - key: Where the bytes were read from (named, redacted, in errors).
    /// - Returns: The record.
    /// - Throws: ``BrokerError`` (``BrokerError/Code/storeCorrupted``).
    public func decodeRecord(_ bytes: [UInt8], for key: StoreKey) throws -> TokenRecord {
        try Self.checkVersion(bytes, what: "record", key: key)
        do {
            return try JSONDecoder().decode(RecordEnvelope.self, from: Data(bytes)).record.tokenRecord
        } catch {
            // The decoding error is dropped on purpose: its text may quote stored bytes.
            throw BrokerError(.storeCorrupted, "stored record is not a valid format-1 record", key: key)
        }
    }

    /// Encodes a session as a format-1 JSON envelope.
    /// - Parameter session: The session.
    /// - Returns: UTF-8 JSON.
    /// - Throws: ``BrokerError`` (``BrokerError/Code/storeFailed``) if encoding fails.
    public func encode(_ session: AuthorizationSession) throws -> [UInt8] {
        try Self.encode(SessionEnvelope(v: Self.formatVersion, session: SessionV1(session)), what: "session", key: nil)
    }

    /// Decodes a format-1 session envelope and checks it belongs to `id`.
    /// - Parameters:
    ///   - bytes: UTF-8 JSON.
    ///   - id: The id the bytes were stored under.
    /// - Returns: The session.
    /// - Throws: ``BrokerError`` (``BrokerError/Code/storeCorrupted``).
    public func decodeSession(_ bytes: [UInt8], id: String) throws -> AuthorizationSession {
        try Self.checkVersion(bytes, what: "session", key: nil)
        let session: AuthorizationSession
        do {
            session = try JSONDecoder().decode(SessionEnvelope.self, from: Data(bytes)).session.authorizationSession
        } catch {
            throw BrokerError(.storeCorrupted, "stored session is not a valid format-1 session")
        }
        guard session.id == id else {
            throw BrokerError(.storeCorrupted, "stored session does not belong to the id it is stored under")
        }
        return session
    }

    private static func encode(_ value: some Encodable, what: String, key: StoreKey?) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        do {
            return Array(try encoder.encode(value))
        } catch {
            throw BrokerError(.storeFailed, "\(what) could not be encoded (a non-finite number?)", key: key)
        }
    }

    private struct VersionProbe: Decodable { let v: Int }

    private static func checkVersion(_ bytes: [UInt8], what: String, key: StoreKey?) throws {
        guard bytes.first == UInt8(ascii: "{"),
            let probe = try? JSONDecoder().decode(VersionProbe.self, from: Data(bytes))
        else {
            throw BrokerError(.storeCorrupted, "stored \(what) is not a JSON envelope", key: key)
        }
        guard probe.v == formatVersion else {
            throw BrokerError(.storeCorrupted, "stored \(what) has unsupported format version \(probe.v)", key: key)
        }
    }
}

// MARK: - Format 1 wire types (their coding keys are the on-disk format: never rename them)

private struct RecordEnvelope: Codable {
    let v: Int
    let record: RecordV1
}

private struct SessionEnvelope: Codable {
    let v: Int
    let session: SessionV1
}

private struct RecordV1: Codable {
    let accessToken: Secret
    let refreshToken: Secret?
    let tokenType: String
    let scopes: ScopeSet
    let issuedAt: Date
    let expiresAt: Date?
    let idToken: Secret?
    let extra: [String: JSONValue]
    let version: UInt64
    let status: String

    enum CodingKeys: String, CodingKey {
        case accessToken = "access_token"
        case refreshToken = "refresh_token"
        case tokenType = "token_type"
        case scopes
        case issuedAt = "issued_at"
        case expiresAt = "expires_at"
        case idToken = "id_token"
        case extra
        case version
        case status
    }

    init(_ record: TokenRecord) {
        accessToken = record.accessToken
        refreshToken = record.refreshToken
        tokenType = record.tokenType
        scopes = record.scopes
        issuedAt = record.issuedAt
        expiresAt = record.expiresAt
        idToken = record.idToken
        extra = record.extraFields
        version = record.version
        status = record.status.rawValue
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        accessToken = try container.decode(Secret.self, forKey: .accessToken)
        refreshToken = try container.decodeIfPresent(Secret.self, forKey: .refreshToken)
        tokenType = try container.decode(String.self, forKey: .tokenType)
        scopes = try container.decode(ScopeSet.self, forKey: .scopes)
        issuedAt = Date(timeIntervalSinceReferenceDate: try container.decode(Double.self, forKey: .issuedAt))
        expiresAt = try container.decodeIfPresent(Double.self, forKey: .expiresAt).map {
            Date(timeIntervalSinceReferenceDate: $0)
        }
        idToken = try container.decodeIfPresent(Secret.self, forKey: .idToken)
        extra = try container.decodeIfPresent([String: JSONValue].self, forKey: .extra) ?? [:]
        version = try container.decode(UInt64.self, forKey: .version)
        status = try container.decode(String.self, forKey: .status)
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(accessToken, forKey: .accessToken)
        try container.encodeIfPresent(refreshToken, forKey: .refreshToken)
        try container.encode(tokenType, forKey: .tokenType)
        try container.encode(scopes, forKey: .scopes)
        try container.encode(issuedAt.timeIntervalSinceReferenceDate, forKey: .issuedAt)
        try container.encodeIfPresent(expiresAt?.timeIntervalSinceReferenceDate, forKey: .expiresAt)
        try container.encodeIfPresent(idToken, forKey: .idToken)
        try container.encode(extra, forKey: .extra)
        try container.encode(version, forKey: .version)
        try container.encode(status, forKey: .status)
    }

    var tokenRecord: TokenRecord {
        TokenRecord(
            accessToken: accessToken, refreshToken: refreshToken, tokenType: tokenType, scopes: scopes,
            issuedAt: issuedAt, expiresAt: expiresAt, idToken: idToken, extraFields: extra, version: version,
            status: TokenRecord.Status(rawValue: status))
    }
}

private struct SessionV1: Codable {
    let state: Secret
    let codeVerifier: Secret
    let redirectURI: String
    let key: StoreKey
    let createdAt: Date
    let expiresAt: Date

    enum CodingKeys: String, CodingKey {
        case state
        case codeVerifier = "code_verifier"
        case redirectURI = "redirect_uri"
        case key
        case createdAt = "created_at"
        case expiresAt = "expires_at"
    }

    init(_ session: AuthorizationSession) {
        state = session.state
        codeVerifier = session.codeVerifier
        redirectURI = session.redirectURI
        key = session.key
        createdAt = session.createdAt
        expiresAt = session.expiresAt
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        state = try container.decode(Secret.self, forKey: .state)
        codeVerifier = try container.decode(Secret.self, forKey: .codeVerifier)
        redirectURI = try container.decode(String.self, forKey: .redirectURI)
        key = try container.decode(StoreKey.self, forKey: .key)
        createdAt = Date(timeIntervalSinceReferenceDate: try container.decode(Double.self, forKey: .createdAt))
        expiresAt = Date(timeIntervalSinceReferenceDate: try container.decode(Double.self, forKey: .expiresAt))
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(state, forKey: .state)
        try container.encode(codeVerifier, forKey: .codeVerifier)
        try container.encode(redirectURI, forKey: .redirectURI)
        try container.encode(key, forKey: .key)
        try container.encode(createdAt.timeIntervalSinceReferenceDate, forKey: .createdAt)
        try container.encode(expiresAt.timeIntervalSinceReferenceDate, forKey: .expiresAt)
    }

    var authorizationSession: AuthorizationSession {
        AuthorizationSession(
            state: state, codeVerifier: codeVerifier, redirectURI: redirectURI, key: key, createdAt: createdAt,
            expiresAt: expiresAt)
    }
}
