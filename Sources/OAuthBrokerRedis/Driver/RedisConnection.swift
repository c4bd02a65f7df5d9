import CHiredis
import OAuthBroker

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// The connection broke (I/O error, timeout, EOF): the hiredis context is unusable and must be freed.
struct RedisConnectionLost: Error {
    let message: String
}

/// One blocking hiredis connection: connected, authenticated and on the right database.
///
/// Not `Sendable`: it is confined to one ``RedisConnectionSlot`` actor, whose executor runs on a Dispatch queue,
/// so every blocking hiredis call here happens off Swift's cooperative pool. Every command goes through
/// `redisCommandArgv`/`redisAppendCommandArgv` with explicit lengths: binary-safe, never a format string.
final class RedisConnection {
    private let context: UnsafeMutablePointer<redisContext>

    /// Connects, sets the command timeout, then sends `AUTH`, `SELECT` and `CLIENT SETNAME` as configured.
    /// - Throws: ``BrokerError``: ``BrokerError/Code/storeUnavailable`` when the server cannot be reached or
    ///   does not answer in time; ``BrokerError/Code/invalidConfiguration`` when it rejects the credentials, the
    ///   database or the client name.
    init(configuration: RedisStore.Configuration) throws {
        let endpoint = "\(configuration.host):\(configuration.port)"
        let raw = configuration.host.withCString { host in
            redisConnectWithTimeout(host, Int32(configuration.port), Self.makeTimeval(configuration.connectTimeout))
        }
        guard let raw else {
            throw BrokerError(.storeUnavailable, "Redis at \(endpoint): could not allocate a connection")
        }
        if raw.pointee.err != 0 {
            let reason = Self.errorText(raw)
            redisFree(raw)
            throw BrokerError(.storeUnavailable, "Redis at \(endpoint) is unreachable: \(reason)")
        }
        context = raw
        SignalPipeGuard.disableOnSocket(raw.pointee.fd)
        guard redisSetTimeout(raw, Self.makeTimeval(configuration.commandTimeout)) == REDIS_OK else {
            throw BrokerError(.storeUnavailable, "Redis at \(endpoint): could not set the command timeout")
        }

        // From here on, `deinit` frees the context when a step throws.
        if let password = configuration.password {
            var arguments: [[UInt8]] = [Array("AUTH".utf8)]
            if let username = configuration.username { arguments.append(Array(username.utf8)) }
            arguments.append(Array(password.revealedValue.utf8))
            let reply = try handshake(arguments, endpoint: endpoint, step: "AUTH")
            if case .error(let message) = reply {
                if RedisErrorMapping.isTransient(message) {
                    throw BrokerError(.storeUnavailable, "Redis at \(endpoint) is not ready (AUTH)")
                }
                // The server's text is dropped on purpose: older servers quote the command back.
                let user = configuration.username.map { "user '\($0)'" } ?? "the default user"
                throw BrokerError(.invalidConfiguration, "Redis at \(endpoint) rejected the password for \(user)")
            }
        }
        if configuration.database != 0 {
            let reply = try handshake(
                [Array("SELECT".utf8), Array(String(configuration.database).utf8)], endpoint: endpoint, step: "SELECT")
            if case .error(let message) = reply {
                throw RedisErrorMapping.error(message, during: "SELECT \(configuration.database) at \(endpoint)")
            }
        }
        if let name = configuration.clientName {
            let reply = try handshake(
                [Array("CLIENT".utf8), Array("SETNAME".utf8), Array(name.utf8)], endpoint: endpoint, step: "SETNAME")
            if case .error(let message) = reply {
                throw RedisErrorMapping.error(message, during: "CLIENT SETNAME at \(endpoint)")
            }
        }
    }

    deinit {
        redisFree(context)
    }

    /// Whether the connection can take a command: no hiredis error, and the server has not closed the socket
    /// (a non-blocking `MSG_PEEK` sees neither EOF nor unexpected bytes). Catches connections the server dropped
    /// while idle (`CLIENT KILL`, `timeout`, a restart) before a command is sent on them.
    var isHealthy: Bool {
        guard context.pointee.err == 0 else { return false }
        var byte: UInt8 = 0
        let received = recv(context.pointee.fd, &byte, 1, Int32(MSG_PEEK) | Int32(MSG_DONTWAIT))
        if received < 0 { return errno == EAGAIN || errno == EWOULDBLOCK }
        return false  // 0: EOF; > 0: bytes nobody asked for.
    }

    /// Sends one command and waits for its reply.
    /// - Throws: ``RedisConnectionLost`` on an I/O error or timeout; the connection is then unusable.
    func command(_ arguments: [[UInt8]]) throws -> RedisReply {
        let raw = SignalPipeGuard.run {
            Self.withArgv(arguments) { argc, argv, lengths in redisCommandArgv(context, argc, argv, lengths) }
        }
        guard let raw else { throw RedisConnectionLost(message: Self.errorText(context)) }
        defer { freeReplyObject(raw) }
        return RedisReply(copying: raw.assumingMemoryBound(to: redisReply.self))
    }

    /// Sends several commands in one write and reads their replies in order (pipelining).
    /// - Throws: ``RedisConnectionLost`` on an I/O error or timeout; the connection is then unusable.
    func pipeline(_ commands: [[[UInt8]]]) throws -> [RedisReply] {
        for arguments in commands {
            let status = Self.withArgv(arguments) { argc, argv, lengths in
                redisAppendCommandArgv(context, argc, argv, lengths)
            }
            guard status == REDIS_OK else { throw RedisConnectionLost(message: Self.errorText(context)) }
        }
        var replies: [RedisReply] = []
        replies.reserveCapacity(commands.count)
        for _ in commands {
            var raw: UnsafeMutableRawPointer?
            let status = SignalPipeGuard.run { redisGetReply(context, &raw) }
            guard status == REDIS_OK, let raw else { throw RedisConnectionLost(message: Self.errorText(context)) }
            replies.append(RedisReply(copying: raw.assumingMemoryBound(to: redisReply.self)))
            freeReplyObject(raw)
        }
        return replies
    }

    private func handshake(_ arguments: [[UInt8]], endpoint: String, step: String) throws -> RedisReply {
        do {
            return try command(arguments)
        } catch let lost as RedisConnectionLost {
            throw BrokerError(.storeUnavailable, "Redis at \(endpoint) failed during \(step): \(lost.message)")
        }
    }

    /// Lays the arguments out in one buffer and calls `body` with hiredis's `argc`, `argv` and `argvlen`.
    private static func withArgv<T>(
        _ arguments: [[UInt8]],
        _ body: (Int32, UnsafeMutablePointer<UnsafePointer<CChar>?>, UnsafePointer<Int>) -> T
    ) -> T {
        let flat = Array(arguments.joined()) + [0]  // never empty, so the buffer has an address
        let lengths = arguments.map(\.count)
        return flat.withUnsafeBufferPointer { buffer in
            let base = UnsafeRawPointer(buffer.baseAddress!)
            var pointers: [UnsafePointer<CChar>?] = []
            pointers.reserveCapacity(arguments.count)
            var offset = 0
            for length in lengths {
                pointers.append(base.advanced(by: offset).assumingMemoryBound(to: CChar.self))
                offset += length
            }
            return pointers.withUnsafeMutableBufferPointer { argv in
                lengths.withUnsafeBufferPointer { argvlen in
                    body(Int32(arguments.count), argv.baseAddress!, argvlen.baseAddress!)
                }
            }
        }
    }

    private static func errorText(_ context: UnsafeMutablePointer<redisContext>) -> String {
        let text = withUnsafeBytes(of: context.pointee.errstr) { raw -> String in
            let bytes = raw.prefix { $0 != 0 }
            return String(decoding: bytes, as: UTF8.self)
        }
        let kind =
            switch context.pointee.err {
            case REDIS_ERR_EOF: "connection closed by the server"
            case REDIS_ERR_IO where text.contains("Resource temporarily unavailable"): "timed out"
            case REDIS_ERR_IO: "I/O error"
            case REDIS_ERR_PROTOCOL: "protocol error"
            case REDIS_ERR_OOM: "out of memory"
            default: "error"
            }
        return text.isEmpty ? kind : "\(kind) (\(text))"
    }

    private static func makeTimeval(_ duration: Duration) -> timeval {
        let (seconds, attoseconds) = duration.components
        var microseconds = attoseconds / 1_000_000_000_000
        if seconds == 0 && microseconds == 0 { microseconds = 1 }
        return timeval(tv_sec: numericCast(seconds), tv_usec: numericCast(microseconds))
    }
}
