import CHiredis
import Foundation

/// The floor for `store-fetch` on Redis: a plain hiredis `GET` loop through `redisCommandArgv`, one blocking
/// connection per thread, reading a value as large as a stored record.
enum HiredisBaseline {
    /// SETs `value` under a bench key, has `threads` threads GET it in a loop until `duration` has passed, then
    /// deletes it.
    static func getLoop(url: String, value: [UInt8], threads: Int, duration: Duration) throws -> Throughput {
        let endpoint = try RedisEndpoint(url)
        let key = "oauth-broker-bench:baseline:\(UInt64.random(in: 0...UInt64.max))"
        let setup = try RedisConnection(endpoint)
        try setup.command(["SET", key].map { Array($0.utf8) } + [value])
        defer { _ = try? setup.command(["DEL", key].map { Array($0.utf8) }) }
        return try ThreadLoop.run(threads: threads, duration: duration) { _, deadline in
            let connection = try RedisConnection(endpoint)
            // The arguments are built once; the loop is redisCommandArgv + freeReplyObject only.
            return try "GET".withCString { get in
                try key.withCString { keyBytes in
                    var argv: [UnsafePointer<CChar>?] = [get, keyBytes]
                    let lengths = [3, key.utf8.count]
                    var count = 0
                    while ContinuousClock.now < deadline {
                        for _ in 0..<64 {
                            let length = try connection.run(&argv, lengths)
                            guard length == value.count else {
                                throw BenchError("the baseline GET returned \(length) bytes")
                            }
                        }
                        count += 64
                    }
                    return count
                }
            }
        }
    }
}

/// Host, port, password and database of a `redis://` URL.
struct RedisEndpoint: Sendable {
    var host = "127.0.0.1"
    var port = 6379
    var password: String?
    var user: String?
    var database = 0

    init(_ string: String) throws {
        guard let components = URLComponents(string: string), components.scheme == "redis" else {
            throw BenchError("the baseline needs a redis:// URL")
        }
        if let host = components.host, !host.isEmpty { self.host = host }
        if let port = components.port { self.port = port }
        password = components.password.flatMap { $0.removingPercentEncoding ?? $0 }
        user = components.user.flatMap { $0.isEmpty ? nil : ($0.removingPercentEncoding ?? $0) }
        let path = components.path.trimmingCharacters(in: CharacterSet(charactersIn: "/"))
        if !path.isEmpty { database = Int(path) ?? 0 }
    }
}

/// One blocking hiredis connection (used on one thread only).
final class RedisConnection {
    private let context: UnsafeMutablePointer<redisContext>

    init(_ endpoint: RedisEndpoint) throws {
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        guard let context = redisConnectWithTimeout(endpoint.host, Int32(endpoint.port), timeout) else {
            throw BenchError("redisConnectWithTimeout returned NULL")
        }
        self.context = context
        if context.pointee.err != 0 {
            redisFree(context)
            throw BenchError("cannot connect to Redis at \(endpoint.host):\(endpoint.port)")
        }
        redisSetTimeout(context, timeout)
        timeout.tv_sec = 5
        if let password = endpoint.password {
            let auth = ["AUTH"] + (endpoint.user.map { [$0] } ?? []) + [password]
            try command(auth.map { Array($0.utf8) })
        }
        if endpoint.database != 0 { try command(["SELECT", "\(endpoint.database)"].map { Array($0.utf8) }) }
    }

    deinit { redisFree(context) }

    /// Runs a command; returns the byte length of a string reply (0 for other replies).
    @discardableResult
    func command(_ arguments: [[UInt8]]) throws -> Int {
        var pointers: [UnsafePointer<CChar>?] = []
        var lengths: [Int] = []
        let buffers = arguments.map { bytes -> UnsafeMutablePointer<CChar> in
            let buffer = UnsafeMutablePointer<CChar>.allocate(capacity: max(bytes.count, 1))
            bytes.withUnsafeBytes { raw in
                if let base = raw.baseAddress {
                    UnsafeMutableRawPointer(buffer).copyMemory(from: base, byteCount: bytes.count)
                }
            }
            return buffer
        }
        defer { for buffer in buffers { buffer.deallocate() } }
        for (buffer, bytes) in zip(buffers, arguments) {
            pointers.append(UnsafePointer(buffer))
            lengths.append(bytes.count)
        }
        return try run(&pointers, lengths)
    }

    /// Runs a command from prepared argument pointers and lengths; returns the byte length of a string reply.
    func run(_ argv: inout [UnsafePointer<CChar>?], _ lengths: [Int]) throws -> Int {
        let raw = argv.withUnsafeMutableBufferPointer { argv in
            lengths.withUnsafeBufferPointer { argvlen in
                redisCommandArgv(context, Int32(argv.count), argv.baseAddress, argvlen.baseAddress)
            }
        }
        guard let raw else { throw BenchError("Redis I/O error") }
        defer { freeReplyObject(raw) }
        let reply = raw.assumingMemoryBound(to: redisReply.self).pointee
        if reply.type == REDIS_REPLY_ERROR { throw BenchError("Redis replied with an error") }
        return reply.type == REDIS_REPLY_STRING ? Int(reply.len) : 0
    }
}
