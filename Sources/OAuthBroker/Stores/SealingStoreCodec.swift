public import Crypto
import Foundation

/// A ``StoreCodec`` that encrypts every record and session with AES-256-GCM before a store writes it.
///
/// The codec holds a key ring: several keys, each with an id. The **first** key seals every blob written; every
/// key opens. Rotating keys is therefore: put the new key first and keep the old ones after it; records are
/// re-sealed under the new key as they are written, or all at once with ``ResealableStore/resealAll(tenant:leaseTTL:leaseWait:)``;
/// then drop the old keys.
///
/// The plaintext is the format-1 JSON blob of ``JSONStoreCodec``. Blobs that ``JSONStoreCodec`` wrote (they start
/// with `{`) are still read, so an existing plain store migrates as it is written; set
/// ``Options/acceptsPlainBlobs`` to `false` once it has been re-sealed.
///
/// ## Sealed blob, format 1
/// | bytes | content |
/// |---|---|
/// | 1 | format tag `0x53` (`S`; a plain blob starts with `{`, 0x7B) |
/// | 1 | sealed format version, `0x01` |
/// | 1 | key id length `L`, 1…64 |
/// | `L` | key id, ASCII `[A-Za-z0-9._-]` |
/// | 12 | AES-GCM nonce, random per seal |
/// | n | ciphertext (as long as the plaintext JSON) |
/// | 16 | AES-GCM tag |
///
/// The additional authenticated data is `oauth-broker sealed v1` (22 ASCII bytes), a `0x00`, the purpose
/// (`0x01` record, `0x02` session), the location's UTF-8 length as 4 bytes big-endian, the location (the
/// record's ``StoreKey/storageID`` or the session's id), and the header (the first `3 + L` bytes above). A blob
/// copied under another key or session id, turned from a record into a session, or given another key id, fails
/// authentication.
///
/// ## Errors
/// - A blob sealed under a key id the ring lacks: ``BrokerError/Code/sealingKeyMissing``, whose message names the
///   id.
/// - A blob that fails authentication (a wrong key for its id, tampering, a blob moved from elsewhere), a
///   truncated blob or an unknown sealed format version: ``BrokerError/Code/storeCorrupted``.
/// - Messages never contain stored bytes or key material.
///
/// - Important: Sealing protects tokens and PKCE verifiers in the store's bytes (files, backups, a database or
///   Redis dump). It does not hide which keys (tenants, principals, scopes) exist, version numbers or expiry
///   times kept beside the blob, and it does not protect against a process that holds the keys.
public struct SealingStoreCodec: StoreCodec, CustomStringConvertible, CustomDebugStringConvertible,
    CustomReflectable
{
    /// One key of the ring: an id and 256 bits of key material.
    public struct Key: Sendable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
        /// The key id written into every blob this key seals: 1–64 characters of `[A-Za-z0-9._-]`.
        public let id: String
        let material: SymmetricKey

        /// Creates a key from key material.
        /// - Parameters:
        ///   - id: The key id, 1–64 characters of `[A-Za-z0-9._-]`.
        ///   - key: A 256-bit key.
        /// - Throws: ``BrokerError`` (``BrokerError/Code/invalidConfiguration``) for an invalid id or a key that is
        ///   not 256 bits long.
        public init(id: String, key: SymmetricKey) throws {
            guard Self.isValidID(id) else {
                throw BrokerError(.invalidConfiguration, "a sealing key id must be 1-64 characters of A-Za-z0-9._-")
            }
            guard key.bitCount == 256 else {
                throw BrokerError(.invalidConfiguration, "a sealing key must be 256 bits (32 bytes) long")
            }
            self.id = id
            self.material = key
        }

        /// Creates a key from 32 bytes of key material.
        /// - Parameters:
        ///   - id: The key id, 1–64 characters of `[A-Za-z0-9._-]`.
        ///   - bytes: Exactly 32 bytes.
        /// - Throws: ``BrokerError`` (``BrokerError/Code/invalidConfiguration``) for an invalid id or length.
        public init(id: String, bytes: [UInt8]) throws {
            try self.init(id: id, key: SymmetricKey(data: bytes))
        }

        /// Creates a key with fresh random material (for tests and for generating key files).
        /// - Parameter id: The key id, 1–64 characters of `[A-Za-z0-9._-]`.
        /// - Returns: The key.
        /// - Throws: ``BrokerError`` (``BrokerError/Code/invalidConfiguration``) for an invalid id.
        public static func random(id: String) throws -> Key {
            try Key(id: id, key: SymmetricKey(size: .bits256))
        }

        /// Whether `id` is a valid key id: 1–64 characters of `[A-Za-z0-9._-]`.
        /// - Parameter id: A candidate key id.
        /// - Returns: Whether it is valid.
        public static func isValidID(_ id: String) -> Bool {
            let bytes = id.utf8
            return (1...64).contains(bytes.count) && bytes.allSatisfy(isIDByte)
        }

        static func isIDByte(_ byte: UInt8) -> Bool {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "-"):
                return true
            default:
                return false
            }
        }

        /// `SealingStoreCodec.Key(id: …, <redacted>)`: never the key material.
        public var description: String { "SealingStoreCodec.Key(id: \(id), <redacted>)" }
        /// The same as ``description``.
        public var debugDescription: String { description }
        /// Shows the id only, so `dump` never prints key material.
        public var customMirror: Mirror { Mirror(self, children: ["id": id, "material": "<redacted>"]) }
    }

    /// Choices that trade migration convenience against strictness.
    public struct Options: Sendable {
        /// Whether plain blobs (``JSONStoreCodec``'s, starting with `{`) are still read. Default `true`, so a store
        /// written before sealing was turned on migrates as it is written. Set it to `false` once every record has
        /// been re-sealed: an attacker who can write to the store can then no longer plant a plain record.
        public var acceptsPlainBlobs: Bool

        /// Creates options.
        /// - Parameter acceptsPlainBlobs: Whether plain blobs are read.
        public init(acceptsPlainBlobs: Bool = true) {
            self.acceptsPlainBlobs = acceptsPlainBlobs
        }
    }

    /// The format tag, the first byte of every sealed blob: `0x53` (`S`).
    public static let formatTag: UInt8 = 0x53
    /// The sealed format version this codec writes and reads: `1`.
    public static let formatVersion: UInt8 = 1

    /// The ring, in order: the first key seals.
    public let keys: [Key]
    /// The options in use.
    public let options: Options
    private let inner = JSONStoreCodec()

    /// Creates a codec over a key ring.
    /// - Parameters:
    ///   - keys: At least one key; the first seals, all open. Ids must be distinct.
    ///   - options: Whether plain blobs are read.
    /// - Throws: ``BrokerError`` (``BrokerError/Code/invalidConfiguration``) for an empty ring or a repeated id.
    public init(keys: [Key], options: Options = Options()) throws {
        guard !keys.isEmpty else {
            throw BrokerError(.invalidConfiguration, "a sealing codec needs at least one key")
        }
        var seen = Set<String>()
        for key in keys where !seen.insert(key.id).inserted {
            throw BrokerError(.invalidConfiguration, "sealing key id '\(key.id)' appears twice")
        }
        self.keys = keys
        self.options = options
    }

    /// The id of the key that seals new blobs (the first of ``keys``).
    public var currentKeyID: String { keys[0].id }

    /// `SealingStoreCodec(keys: [current, …])`: key ids only.
    public var description: String { "SealingStoreCodec(keys: [\(keys.map(\.id).joined(separator: ", "))])" }
    /// The same as ``description``.
    public var debugDescription: String { description }
    /// Shows key ids only, so `dump` never prints key material.
    public var customMirror: Mirror { Mirror(self, children: ["keyIDs": keys.map(\.id)]) }

    // MARK: StoreCodec

    /// Seals the format-1 JSON of `record` under the current key, bound to `key`'s storage ID.
    /// - Parameters:
    ///   - record: The record.
    ///   - key: Where it is stored.
    /// - Returns: A sealed blob.
    /// - Throws: ``BrokerError`` (``BrokerError/Code/storeFailed``) if the record cannot be encoded or sealed.
    public func encode(_ record: TokenRecord, for key: StoreKey) throws -> [UInt8] {
        try seal(inner.encode(record, for: key), purpose: .record, location: key.storageID, key: key)
    }

    /// Opens a sealed record blob (or reads a plain one) stored under `key`.
    /// - Parameters:
    ///   - bytes: A sealed or plain blob.
    ///   - key: Where the bytes were read from.
    /// - Returns: The record.
    /// - Throws: ``BrokerError``: ``BrokerError/Code/sealingKeyMissing`` naming a key id the ring lacks;
    ///   ``BrokerError/Code/storeCorrupted`` when authentication or decoding fails.
    public func decodeRecord(_ bytes: [UInt8], for key: StoreKey) throws -> TokenRecord {
        if bytes.first == UInt8(ascii: "{") {
            try requirePlainAccepted(what: "record", key: key)
            return try inner.decodeRecord(bytes, for: key)
        }
        let plaintext = try open(bytes, purpose: .record, location: key.storageID, key: key)
        return try inner.decodeRecord(plaintext, for: key)
    }

    /// Seals the format-1 JSON of `session` under the current key, bound to its id.
    /// - Parameter session: The session.
    /// - Returns: A sealed blob.
    /// - Throws: ``BrokerError`` (``BrokerError/Code/storeFailed``) if the session cannot be encoded or sealed.
    public func encode(_ session: AuthorizationSession) throws -> [UInt8] {
        try seal(inner.encode(session), purpose: .session, location: session.id, key: nil)
    }

    /// Opens a sealed session blob (or reads a plain one) stored under `id`.
    /// - Parameters:
    ///   - bytes: A sealed or plain blob.
    ///   - id: The session id the bytes were stored under.
    /// - Returns: The session.
    /// - Throws: ``BrokerError``: ``BrokerError/Code/sealingKeyMissing`` naming a key id the ring lacks;
    ///   ``BrokerError/Code/storeCorrupted`` when authentication or decoding fails, or the session belongs to
    ///   another id.
    public func decodeSession(_ bytes: [UInt8], id: String) throws -> AuthorizationSession {
        if bytes.first == UInt8(ascii: "{") {
            try requirePlainAccepted(what: "session", key: nil)
            return try inner.decodeSession(bytes, id: id)
        }
        let plaintext = try open(bytes, purpose: .session, location: id, key: nil)
        return try inner.decodeSession(plaintext, id: id)
    }

    /// The id of the key a blob is sealed under, or `nil` for a plain blob; no key is needed.
    /// - Parameter bytes: A blob a store holds.
    /// - Returns: The key id, or `nil` when the blob is plain.
    /// - Throws: ``BrokerError`` (``BrokerError/Code/storeCorrupted``) for a blob in neither format.
    public static func keyID(ofBlob bytes: [UInt8]) throws -> String? {
        if bytes.first == UInt8(ascii: "{") { return nil }
        return try Header(parsing: bytes, what: "blob", key: nil).keyID
    }

    // MARK: Sealing

    private enum Purpose: UInt8 {
        case record = 1
        case session = 2

        var name: String { self == .record ? "record" : "session" }
    }

    private static let label = Array("oauth-broker sealed v1".utf8)
    private static let nonceLength = 12
    private static let tagLength = 16

    /// The fixed part of a sealed blob: tag, version, key id.
    private struct Header {
        let keyID: String
        /// The header's length: `3 + L`.
        let length: Int

        init(parsing bytes: [UInt8], what: String, key: StoreKey?) throws {
            guard bytes.count >= 3, bytes[0] == SealingStoreCodec.formatTag else {
                throw BrokerError(.storeCorrupted, "stored \(what) is neither a plain nor a sealed blob", key: key)
            }
            guard bytes[1] == SealingStoreCodec.formatVersion else {
                throw BrokerError(
                    .storeCorrupted, "stored \(what) has unsupported sealed format version \(bytes[1])", key: key)
            }
            let idLength = Int(bytes[2])
            length = 3 + idLength
            guard (1...64).contains(idLength),
                bytes.count >= length + SealingStoreCodec.nonceLength + SealingStoreCodec.tagLength,
                bytes[3..<length].allSatisfy(Key.isIDByte)
            else {
                throw BrokerError(.storeCorrupted, "stored \(what) is a truncated or malformed sealed blob", key: key)
            }
            keyID = String(decoding: bytes[3..<length], as: UTF8.self)
        }
    }

    private func requirePlainAccepted(what: String, key: StoreKey?) throws {
        guard options.acceptsPlainBlobs else {
            throw BrokerError(.storeCorrupted, "stored \(what) is not sealed, and plain blobs are refused", key: key)
        }
    }

    private static func additionalData(purpose: Purpose, location: String, header: ArraySlice<UInt8>) -> [UInt8] {
        let place = Array(location.utf8)
        var data = label
        data.reserveCapacity(label.count + 6 + place.count + header.count)
        data.append(0)
        data.append(purpose.rawValue)
        let count = UInt32(truncatingIfNeeded: place.count)
        data += [UInt8(count >> 24), UInt8((count >> 16) & 0xFF), UInt8((count >> 8) & 0xFF), UInt8(count & 0xFF)]
        data += place
        data += header
        return data
    }

    private func seal(_ plaintext: [UInt8], purpose: Purpose, location: String, key: StoreKey?) throws -> [UInt8] {
        let current = keys[0]
        var blob: [UInt8] = [Self.formatTag, Self.formatVersion, UInt8(current.id.utf8.count)]
        blob += current.id.utf8
        let additional = Self.additionalData(purpose: purpose, location: location, header: blob[...])
        let box: AES.GCM.SealedBox
        do {
            box = try AES.GCM.seal(
                plaintext, using: current.material, nonce: AES.GCM.Nonce(), authenticating: additional)
        } catch {
            throw BrokerError(.storeFailed, "the \(purpose.name) could not be sealed", key: key)
        }
        blob.reserveCapacity(blob.count + Self.nonceLength + plaintext.count + Self.tagLength)
        blob += box.nonce
        blob += box.ciphertext
        blob += box.tag
        return blob
    }

    private func open(_ bytes: [UInt8], purpose: Purpose, location: String, key: StoreKey?) throws -> [UInt8] {
        let header = try Header(parsing: bytes, what: purpose.name, key: key)
        guard let sealing = keys.first(where: { $0.id == header.keyID }) else {
            throw BrokerError(
                .sealingKeyMissing,
                "stored \(purpose.name) is sealed under key id '\(header.keyID)', which is not configured", key: key)
        }
        let additional = Self.additionalData(purpose: purpose, location: location, header: bytes[..<header.length])
        let nonceEnd = header.length + Self.nonceLength
        let tagStart = bytes.count - Self.tagLength
        do {
            let box = try AES.GCM.SealedBox(
                nonce: AES.GCM.Nonce(data: bytes[header.length..<nonceEnd]), ciphertext: bytes[nonceEnd..<tagStart],
                tag: bytes[tagStart...])
            return Array(try AES.GCM.open(box, using: sealing.material, authenticating: additional))
        } catch {
            throw BrokerError(
                .storeCorrupted,
                "stored \(purpose.name) failed authentication under key id '\(header.keyID)' "
                    + "(a wrong key for that id, a tampered blob, or a blob moved from another key)", key: key)
        }
    }
}
