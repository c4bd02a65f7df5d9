public import Foundation

/// `application/x-www-form-urlencoded` encoding as OAuth uses it (RFC 6749 Appendix B).
public enum FormEncoding {
    /// Encodes one name or value: unreserved characters (`A-Z a-z 0-9 - . _ ~`) stay, space becomes `+`, every
    /// other byte of the UTF-8 encoding becomes `%XX`.
    public static func encode(_ string: String) -> String {
        let hex = Array("0123456789ABCDEF".utf8)
        var out = [UInt8]()
        out.reserveCapacity(string.utf8.count)
        for byte in string.utf8 {
            switch byte {
            case 0x41...0x5A, 0x61...0x7A, 0x30...0x39, 0x2D, 0x2E, 0x5F, 0x7E: out.append(byte)
            case 0x20: out.append(0x2B)
            default:
                out.append(0x25)
                out.append(hex[Int(byte >> 4)])
                out.append(hex[Int(byte & 0x0F)])
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Encodes ordered pairs as a form body.
    public static func encode(_ pairs: [(String, String)]) -> Data {
        Data(pairs.map { "\(encode($0.0))=\(encode($0.1))" }.joined(separator: "&").utf8)
    }

    /// Decodes a form or query string into ordered pairs (`+` is a space, `%XX` a byte). Malformed escapes are
    /// kept literally.
    public static func decode(_ string: String) -> [(String, String)] {
        string.split(separator: "&", omittingEmptySubsequences: true).map { pair in
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            return (decodeComponent(parts[0]), parts.count > 1 ? decodeComponent(parts[1]) : "")
        }
    }

    /// Decodes one form-urlencoded name or value: `+` is a space, `%XX` a byte; malformed escapes stay literal.
    public static func decodeComponent(_ part: Substring) -> String {
        var out = [UInt8]()
        let bytes = Array(part.utf8)
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            if byte == 0x2B {
                out.append(0x20)
            } else if byte == 0x25, index + 2 < bytes.count, let high = hexValue(bytes[index + 1]),
                let low = hexValue(bytes[index + 2])
            {
                out.append(high << 4 | low)
                index += 2
            } else {
                out.append(byte)
            }
            index += 1
        }
        return String(decoding: out, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case 0x30...0x39: return byte - 0x30
        case 0x41...0x46: return byte - 0x41 + 10
        case 0x61...0x66: return byte - 0x61 + 10
        default: return nil
        }
    }

    /// The `Authorization` header value for `client_secret_basic`: `Basic base64(enc(id):enc(secret))`, with
    /// both parts form-urlencoded first, as RFC 6749 §2.3.1 requires.
    public static func basicAuthorization(clientID: String, clientSecret: Secret) -> String {
        let credentials = "\(encode(clientID)):\(encode(clientSecret.revealedValue))"
        return "Basic " + Data(credentials.utf8).base64EncodedString()
    }
}
