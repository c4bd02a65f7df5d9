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
/// The codec reads and writes this fixed shape with a small hand-written JSON reader and writer (no `Codable`,
/// no `JSONSerialization`): decoding a record is a single pass over the bytes. It writes the same bytes
/// Foundation's `JSONEncoder` (sorted keys, unescaped slashes) wrote for this format, and reads everything that
/// encoder wrote; members it does not know are skipped, as before.
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
    /// - Throws: ``BrokerError`` (``BrokerError/Code/storeFailed``) when a date or an extra field holds a
    ///   non-finite number.
    public func encode(_ record: TokenRecord, for key: StoreKey) throws -> [UInt8] {
        var writer = StoreJSONWriter(capacity: 320 + record.accessToken.revealedValue.utf8.count)
        guard writer.writeRecordEnvelope(record) else {
            throw BrokerError(.storeFailed, "record could not be encoded (a non-finite number?)", key: key)
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
            var reader = StoreJSONReader(buffer, at: body)
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
        var writer = StoreJSONWriter(capacity: 384)
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
            var reader = StoreJSONReader(buffer, at: body)
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
        var reader = StoreJSONReader(buffer, at: 0)
        var version: Int?
        var body = -1
        do {
            guard buffer.first == UInt8(ascii: "{") else { throw StoreJSONReader.Malformed() }
            try reader.readObject { reader, name in
                if name == "v" {
                    version = try reader.readInt()
                } else {
                    if name == member { body = reader.offset }
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

extension StoreJSONReader {
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
            case "extra": extra = try reader.readOptional { try $0.readJSONObject(depth: 1) }
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

extension StoreJSONWriter {
    /// Writes `{"record":{…},"v":1}`; `false` if a number is not finite.
    fileprivate mutating func writeRecordEnvelope(_ record: TokenRecord) -> Bool {
        raw(#"{"record":{"access_token":"#)
        string(record.accessToken.revealedValue)
        if let expiresAt = record.expiresAt {
            raw(#","expires_at":"#)
            guard number(expiresAt.timeIntervalSinceReferenceDate) else { return false }
        }
        raw(#","extra":"#)
        guard object(record.extraFields) else { return false }
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

// MARK: - A minimal JSON writer and reader

/// Writes JSON the way Foundation's `JSONEncoder` does with `[.sortedKeys, .withoutEscapingSlashes]`: strings
/// escape only `"`, `\` and control characters (`\b \f \n \r \t`, others as `\u00xx`); non-ASCII is written
/// as UTF-8; a double is its shortest round-tripping `description`, without a trailing `.0`.
struct StoreJSONWriter {
    private(set) var bytes: [UInt8] = []

    init(capacity: Int) { bytes.reserveCapacity(capacity) }

    mutating func raw(_ text: String) { bytes.append(contentsOf: text.utf8) }

    mutating func string(_ value: String) {
        bytes.append(UInt8(ascii: "\""))
        var value = value
        value.withUTF8 { utf8 in
            var runStart = 0
            for index in utf8.indices {
                let byte = utf8[index]
                guard byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") else { continue }
                bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart..<index]))
                runStart = index + 1
                bytes.append(UInt8(ascii: "\\"))
                switch byte {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"): bytes.append(byte)
                case 0x08: bytes.append(UInt8(ascii: "b"))
                case 0x0C: bytes.append(UInt8(ascii: "f"))
                case 0x0A: bytes.append(UInt8(ascii: "n"))
                case 0x0D: bytes.append(UInt8(ascii: "r"))
                case 0x09: bytes.append(UInt8(ascii: "t"))
                default:
                    let hex = Array("0123456789abcdef".utf8)
                    bytes.append(contentsOf: [UInt8(ascii: "u"), 0x30, 0x30, hex[Int(byte >> 4)], hex[Int(byte & 0xF)]])
                }
            }
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart...]))
        }
        bytes.append(UInt8(ascii: "\""))
    }

    /// Writes a finite double; returns `false` (writing nothing) for NaN or an infinity.
    mutating func number(_ value: Double) -> Bool {
        guard value.isFinite else { return false }
        var text = value.description
        if text.hasSuffix(".0") { text.removeLast(2) }
        raw(text)
        return true
    }

    mutating func strings(_ values: [String]) {
        bytes.append(UInt8(ascii: "["))
        for (index, value) in values.enumerated() {
            if index > 0 { bytes.append(UInt8(ascii: ",")) }
            string(value)
        }
        bytes.append(UInt8(ascii: "]"))
    }

    mutating func object(_ members: [String: JSONValue]) -> Bool {
        bytes.append(UInt8(ascii: "{"))
        for (index, name) in members.keys.sorted(by: Self.sortsBefore).enumerated() {
            if index > 0 { bytes.append(UInt8(ascii: ",")) }
            string(name)
            bytes.append(UInt8(ascii: ":"))
            guard value(members[name]!) else { return false }
        }
        bytes.append(UInt8(ascii: "}"))
        return true
    }

    mutating func value(_ value: JSONValue) -> Bool {
        switch value {
        case .null: raw("null")
        case .bool(let flag): raw(flag ? "true" : "false")
        case .number(let number): return self.number(number)
        case .string(let text): string(text)
        case .array(let elements):
            bytes.append(UInt8(ascii: "["))
            for (index, element) in elements.enumerated() {
                if index > 0 { bytes.append(UInt8(ascii: ",")) }
                guard self.value(element) else { return false }
            }
            bytes.append(UInt8(ascii: "]"))
        case .object(let members): return object(members)
        }
        return true
    }

    /// The member order of `JSONEncoder`'s `.sortedKeys` on this platform: by UTF-8 bytes.
    static func sortsBefore(_ lhs: String, _ rhs: String) -> Bool { lhs.utf8.lexicographicallyPrecedes(rhs.utf8) }
}

/// Reads RFC 8259 JSON from a byte buffer, strictly (no comments, no trailing commas, no leading zeros, no
/// non-finite numbers, valid UTF-8, at most ``maximumDepth`` nested containers). It never keeps or reports what
/// it read on failure: errors are the empty ``Malformed``.
struct StoreJSONReader {
    /// The only error: the input is not what was expected. Carries nothing, so no stored byte can leak.
    struct Malformed: Error {}

    /// The deepest nesting accepted (Foundation's `JSONDecoder` also stops at 512).
    static let maximumDepth = 512

    private let buffer: UnsafeBufferPointer<UInt8>
    private(set) var offset: Int

    init(_ buffer: UnsafeBufferPointer<UInt8>, at offset: Int) {
        self.buffer = buffer
        self.offset = offset
    }

    private mutating func skipWhitespace() {
        while offset < buffer.count {
            switch buffer[offset] {
            case 0x20, 0x09, 0x0A, 0x0D: offset += 1
            default: return
            }
        }
    }

    /// The next non-whitespace byte, not consumed.
    private mutating func peek() throws -> UInt8 {
        skipWhitespace()
        guard offset < buffer.count else { throw Malformed() }
        return buffer[offset]
    }

    private mutating func consume(_ byte: UInt8) throws {
        guard try peek() == byte else { throw Malformed() }
        offset += 1
    }

    private mutating func consume(literal: StaticString) throws {
        let count = literal.utf8CodeUnitCount
        guard offset >= 0, buffer.count - offset >= count else { throw Malformed() }
        for index in 0..<count where buffer[offset + index] != literal.utf8Start[index] { throw Malformed() }
        offset += count
    }

    /// Only whitespace remains.
    mutating func readEnd() throws {
        skipWhitespace()
        guard offset == buffer.count else { throw Malformed() }
    }

    /// Reads an object, calling `member` with each name; `member` must read the value.
    mutating func readObject(_ member: (inout StoreJSONReader, String) throws -> Void) throws {
        guard offset >= 0 else { throw Malformed() }
        try consume(UInt8(ascii: "{"))
        if try peek() == UInt8(ascii: "}") {
            offset += 1
            return
        }
        while true {
            guard try peek() == UInt8(ascii: "\"") else { throw Malformed() }
            let name = try readString()
            try consume(UInt8(ascii: ":"))
            try member(&self, name)
            switch try peek() {
            case UInt8(ascii: ","): offset += 1
            case UInt8(ascii: "}"):
                offset += 1
                return
            default: throw Malformed()
            }
        }
    }

    /// Reads an array, calling `element` for each element; `element` must read it.
    mutating func readArray(_ element: (inout StoreJSONReader) throws -> Void) throws {
        try consume(UInt8(ascii: "["))
        if try peek() == UInt8(ascii: "]") {
            offset += 1
            return
        }
        while true {
            try element(&self)
            switch try peek() {
            case UInt8(ascii: ","): offset += 1
            case UInt8(ascii: "]"):
                offset += 1
                return
            default: throw Malformed()
            }
        }
    }

    /// `nil` for a JSON `null`, else what `read` reads.
    mutating func readOptional<T>(_ read: (inout StoreJSONReader) throws -> T) throws -> T? {
        if try peek() == UInt8(ascii: "n") {
            try consume(literal: "null")
            return nil
        }
        return try read(&self)
    }

    mutating func readString() throws -> String {
        try consume(UInt8(ascii: "\""))
        let start = offset
        while offset < buffer.count {
            let byte = buffer[offset]
            if byte == UInt8(ascii: "\"") {
                guard
                    let text = String(validating: UnsafeBufferPointer(rebasing: buffer[start..<offset]), as: UTF8.self)
                else { throw Malformed() }
                offset += 1
                return text
            }
            if byte == UInt8(ascii: "\\") { return try readEscapedString(from: start) }
            guard byte >= 0x20 else { throw Malformed() }
            offset += 1
        }
        throw Malformed()
    }

    /// The slow path of ``readString()``: the string at `start` has an escape at `offset`.
    private mutating func readEscapedString(from start: Int) throws -> String {
        var decoded = Array(UnsafeBufferPointer(rebasing: buffer[start..<offset]))
        while offset < buffer.count {
            let byte = buffer[offset]
            offset += 1
            switch byte {
            case UInt8(ascii: "\""):
                guard let text = String(validating: decoded, as: UTF8.self) else { throw Malformed() }
                return text
            case UInt8(ascii: "\\"):
                guard offset < buffer.count else { throw Malformed() }
                let escape = buffer[offset]
                offset += 1
                switch escape {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): decoded.append(escape)
                case UInt8(ascii: "b"): decoded.append(0x08)
                case UInt8(ascii: "f"): decoded.append(0x0C)
                case UInt8(ascii: "n"): decoded.append(0x0A)
                case UInt8(ascii: "r"): decoded.append(0x0D)
                case UInt8(ascii: "t"): decoded.append(0x09)
                case UInt8(ascii: "u"):
                    var scalar = try readHex4()
                    if (0xD800..<0xDC00).contains(scalar) {
                        try consume(literal: "\\u")
                        let low = try readHex4()
                        guard (0xDC00..<0xE000).contains(low) else { throw Malformed() }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    }
                    guard let unicode = Unicode.Scalar(scalar) else { throw Malformed() }
                    decoded.append(contentsOf: String(Character(unicode)).utf8)
                default: throw Malformed()
                }
            default:
                guard byte >= 0x20 else { throw Malformed() }
                decoded.append(byte)
            }
        }
        throw Malformed()
    }

    private mutating func readHex4() throws -> UInt32 {
        guard buffer.count - offset >= 4 else { throw Malformed() }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = buffer[offset]
            offset += 1
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: throw Malformed()
            }
            value = value << 4 | UInt32(digit)
        }
        return value
    }

    /// Scans a number's grammar; returns its bytes' range and whether it is a plain integer.
    private mutating func scanNumber() throws -> (range: Range<Int>, isInteger: Bool) {
        skipWhitespace()
        let start = offset
        func digits(_ reader: inout StoreJSONReader) -> Int {
            let first = reader.offset
            while reader.offset < reader.buffer.count,
                (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(reader.buffer[reader.offset])
            {
                reader.offset += 1
            }
            return reader.offset - first
        }
        if offset < buffer.count && buffer[offset] == UInt8(ascii: "-") { offset += 1 }
        let integerStart = offset
        let integerDigits = digits(&self)
        guard integerDigits > 0, integerDigits == 1 || buffer[integerStart] != UInt8(ascii: "0") else {
            throw Malformed()
        }
        var isInteger = true
        if offset < buffer.count && buffer[offset] == UInt8(ascii: ".") {
            offset += 1
            guard digits(&self) > 0 else { throw Malformed() }
            isInteger = false
        }
        if offset < buffer.count && (buffer[offset] == UInt8(ascii: "e") || buffer[offset] == UInt8(ascii: "E")) {
            offset += 1
            if offset < buffer.count && (buffer[offset] == UInt8(ascii: "+") || buffer[offset] == UInt8(ascii: "-")) {
                offset += 1
            }
            guard digits(&self) > 0 else { throw Malformed() }
            isInteger = false
        }
        return (start..<offset, isInteger)
    }

    mutating func readDouble() throws -> Double {
        let number = try scanNumber()
        return try double(number.range)
    }

    private func double(_ range: Range<Int>) throws -> Double {
        let text = String(decoding: UnsafeBufferPointer(rebasing: buffer[range]), as: UTF8.self)
        guard let value = Double(text), value.isFinite else { throw Malformed() }
        return value
    }

    mutating func readUInt64() throws -> UInt64 {
        let number = try scanNumber()
        guard number.isInteger else {
            guard let value = UInt64(exactly: try double(number.range)) else { throw Malformed() }
            return value
        }
        guard buffer[number.range.lowerBound] != UInt8(ascii: "-") else {
            guard number.range.count == 2 && buffer[number.range.lowerBound + 1] == UInt8(ascii: "0") else {
                throw Malformed()
            }
            return 0
        }
        var value: UInt64 = 0
        for index in number.range {
            let (times10, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times10.addingReportingOverflow(UInt64(buffer[index] - UInt8(ascii: "0")))
            guard !overflow1 && !overflow2 else { throw Malformed() }
            value = sum
        }
        return value
    }

    mutating func readInt() throws -> Int {
        let number = try scanNumber()
        guard number.isInteger else {
            guard let value = Int(exactly: try double(number.range)) else { throw Malformed() }
            return value
        }
        let text = String(decoding: UnsafeBufferPointer(rebasing: buffer[number.range]), as: UTF8.self)
        guard let value = Int(text) else { throw Malformed() }
        return value
    }

    /// Reads any value as a ``JSONValue``.
    mutating func readJSONValue(depth: Int) throws -> JSONValue {
        switch try peek() {
        case UInt8(ascii: "n"):
            try consume(literal: "null")
            return .null
        case UInt8(ascii: "t"):
            try consume(literal: "true")
            return .bool(true)
        case UInt8(ascii: "f"):
            try consume(literal: "false")
            return .bool(false)
        case UInt8(ascii: "\""): return .string(try readString())
        case UInt8(ascii: "["):
            guard depth < Self.maximumDepth else { throw Malformed() }
            var elements: [JSONValue] = []
            try readArray { elements.append(try $0.readJSONValue(depth: depth + 1)) }
            return .array(elements)
        case UInt8(ascii: "{"): return .object(try readJSONObject(depth: depth))
        default: return .number(try readDouble())
        }
    }

    /// Reads an object of ``JSONValue``s (a repeated member keeps its last value).
    mutating func readJSONObject(depth: Int) throws -> [String: JSONValue] {
        guard depth < Self.maximumDepth else { throw Malformed() }
        var members: [String: JSONValue] = [:]
        try readObject { reader, name in members[name] = try reader.readJSONValue(depth: depth + 1) }
        return members
    }

    /// Reads and discards any value.
    mutating func skipValue() throws {
        _ = try readJSONValue(depth: 0)
    }
}
