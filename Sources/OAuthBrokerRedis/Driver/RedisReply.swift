import CHiredis

/// A RESP2 reply, copied out of hiredis's `redisReply` tree (which is freed right after).
package enum RedisReply: Sendable, Hashable {
    /// `+OK` and other simple strings.
    case status(String)
    /// `-ERR …`: the server refused the command. The text never holds a value the store sent.
    case error(String)
    /// `:123`.
    case integer(Int64)
    /// `$…`: a binary-safe bulk string.
    case bulk([UInt8])
    /// `$-1` or `*-1`: no value.
    case null
    /// `*…`: an array of replies.
    case array([RedisReply])

    /// Copies a hiredis reply (recursively). Unknown reply types (RESP3 ones cannot arrive over RESP2) become
    /// an error reply.
    init(copying raw: UnsafePointer<redisReply>) {
        let reply = raw.pointee
        switch reply.type {
        case REDIS_REPLY_STATUS: self = .status(Self.text(reply))
        case REDIS_REPLY_ERROR: self = .error(Self.text(reply))
        case REDIS_REPLY_INTEGER: self = .integer(Int64(reply.integer))
        case REDIS_REPLY_NIL: self = .null
        case REDIS_REPLY_STRING: self = .bulk(Self.bytes(reply))
        case REDIS_REPLY_ARRAY:
            var elements: [RedisReply] = []
            elements.reserveCapacity(Int(reply.elements))
            for index in 0..<Int(reply.elements) {
                if let element = reply.element[index] {
                    elements.append(RedisReply(copying: element))
                } else {
                    elements.append(.null)
                }
            }
            self = .array(elements)
        default: self = .error("unsupported reply type \(reply.type)")
        }
    }

    private static func bytes(_ reply: redisReply) -> [UInt8] {
        guard let str = reply.str, reply.len > 0 else { return [] }
        return Array(UnsafeRawBufferPointer(start: str, count: Int(reply.len)))
    }

    private static func text(_ reply: redisReply) -> String {
        String(decoding: bytes(reply), as: UTF8.self)
    }

    /// The bulk string's bytes, or `nil` for any other reply.
    package var bytes: [UInt8]? {
        if case .bulk(let bytes) = self { return bytes }
        return nil
    }

    /// The bulk or status string as UTF-8 text, or `nil` for any other reply.
    package var string: String? {
        switch self {
        case .bulk(let bytes): String(decoding: bytes, as: UTF8.self)
        case .status(let text): text
        default: nil
        }
    }

    /// The integer, or `nil` for any other reply.
    package var integer: Int64? {
        if case .integer(let value) = self { return value }
        return nil
    }

    /// The array's elements, or `nil` for any other reply.
    package var array: [RedisReply]? {
        if case .array(let elements) = self { return elements }
        return nil
    }

    /// Whether the reply is `null`.
    package var isNull: Bool { self == .null }
}
