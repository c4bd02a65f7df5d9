import Foundation
public import OAuthBroker

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A key file for `--store-keys`: the sealing keys of a ``OAuthBroker/SealingStoreCodec``, one per line.
///
/// ```
/// # current key first: it seals every write; every key listed opens
/// k2026-06 9mI3LJ0yQkO8GQ0sPZ8v0b1x7bC4s3k0b9w1b8aX2nM=
/// k2026-01 Vv3ZbXQ0Pq1aN7cK2mF4hT9sR6dY8eU5wL0jB3gHk1o=
/// ```
/// - A key line is `KEY_ID BASE64` separated by spaces or tabs: `KEY_ID` is 1–64 characters of `[A-Za-z0-9._-]`,
///   `BASE64` is standard padded base64 (RFC 4648 §4) of exactly 32 bytes. Nothing else may follow.
/// - Blank lines, and lines whose first non-blank character is `#`, are ignored. Lines may end in CRLF.
/// - The first key seals new writes; all keys open. Key ids must be distinct; at least one key is required.
/// - The file must be a regular file of at most 64 KiB, and must not be writable by its group or accessible to
///   others at all (mode `0600`, `0400` or `0640`, for example).
///
/// Errors name the file and the line number, never the line's content (it may hold key material).
public enum StoreKeyFile {
    /// The environment variable that names a key file when `--store-keys` is not given.
    public static let environmentVariable = "OAUTH_BROKER_STORE_KEYS"

    /// The largest key file read, in bytes.
    public static let maximumSize = 65_536

    /// Reads and parses a key file.
    /// - Parameter path: The file.
    /// - Returns: The keys, the sealing key first.
    /// - Throws: ``OAuthBroker/BrokerError`` (``OAuthBroker/BrokerError/Code/invalidConfiguration``) for a file
    ///   that cannot be read, has loose permissions, or does not parse.
    public static func load(path: String) throws -> [SealingStoreCodec.Key] {
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw BrokerError(
                .invalidConfiguration, "cannot read key file \(path): \(String(cString: strerror(errno)))")
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw BrokerError(.invalidConfiguration, "key file \(path) is not a regular file")
        }
        let mode = info.st_mode & 0o777
        guard mode & 0o027 == 0 else {
            throw BrokerError(
                .invalidConfiguration,
                "key file \(path) has mode \(String(mode, radix: 8)), which lets others read or change it "
                    + "(chmod 600 it)")
        }
        guard Int(info.st_size) <= maximumSize else {
            throw BrokerError(.invalidConfiguration, "key file \(path) is larger than \(maximumSize) bytes")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw BrokerError(.invalidConfiguration, "cannot read key file \(path)")
        }
        return try parse(Array(data), source: path)
    }

    /// Parses the content of a key file.
    /// - Parameters:
    ///   - bytes: The file's content.
    ///   - source: The file name used in error messages.
    /// - Returns: The keys, the sealing key first.
    /// - Throws: ``OAuthBroker/BrokerError`` (``OAuthBroker/BrokerError/Code/invalidConfiguration``) naming the
    ///   line, never its content.
    public static func parse(_ bytes: [UInt8], source: String) throws -> [SealingStoreCodec.Key] {
        guard bytes.count <= maximumSize else {
            throw BrokerError(.invalidConfiguration, "key file \(source) is larger than \(maximumSize) bytes")
        }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw BrokerError(.invalidConfiguration, "key file \(source) is not UTF-8 text")
        }
        var keys: [SealingStoreCodec.Key] = []
        var lineNumber = 0
        // "\r\n" is one Character in Swift: split on it as well as on "\n".
        for line in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }) {
            lineNumber += 1
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard let first = fields.first, !first.hasPrefix("#") else { continue }
            func failure(_ reason: String) -> BrokerError {
                BrokerError(.invalidConfiguration, "key file \(source) line \(lineNumber): \(reason)")
            }
            guard fields.count == 2 else { throw failure("expected KEY_ID BASE64 (two fields)") }
            let id = String(fields[0])
            guard SealingStoreCodec.Key.isValidID(id) else {
                throw failure("the key id must be 1-64 characters of A-Za-z0-9._-")
            }
            guard let material = decodeBase64(fields[1]) else {
                throw failure("the key is not standard padded base64")
            }
            guard material.count == 32 else {
                throw failure("the key decodes to \(material.count) bytes; it must be 32")
            }
            guard !keys.contains(where: { $0.id == id }) else {
                throw failure("key id \(id) appears twice")
            }
            keys.append(try SealingStoreCodec.Key(id: id, bytes: material))
        }
        guard !keys.isEmpty else { throw BrokerError(.invalidConfiguration, "key file \(source) has no key") }
        return keys
    }

    /// Strict RFC 4648 §4 base64: the standard alphabet, padding required, no whitespace or other characters.
    private static func decodeBase64(_ text: Substring) -> [UInt8]? {
        let utf8 = Array(text.utf8)
        guard !utf8.isEmpty, utf8.count % 4 == 0,
            utf8.allSatisfy({ byte in
                switch byte {
                case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                    UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "+"), UInt8(ascii: "/"), UInt8(ascii: "="):
                    return true
                default:
                    return false
                }
            }),
            let data = Data(base64Encoded: Data(utf8))
        else { return nil }
        return Array(data)
    }
}
