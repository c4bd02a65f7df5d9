import OAuthBroker
import Synchronization

/// A server-side Lua script, loaded once with `SCRIPT LOAD` and run with `EVALSHA`.
///
/// The SHA-1 the server returns is cached process-wide (it depends only on the source). When a server answers
/// `NOSCRIPT` (it restarted, failed over, or someone ran `SCRIPT FLUSH`), the script is loaded again and the
/// `EVALSHA` retried once.
final class RedisScript: Sendable {
    let name: String
    let source: String
    private let sha = Mutex<[UInt8]?>(nil)

    init(name: String, source: String) {
        self.name = name
        self.source = source
    }

    /// The cached SHA-1, if the script was loaded (for tests).
    var loadedSHA: String? { sha.withLock { $0.map { String(decoding: $0, as: UTF8.self) } } }

    /// Runs the script on `connection` with `keys` and `arguments`.
    /// - Returns: The script's reply; a Redis error reply is thrown as a ``BrokerError``.
    /// - Throws: ``RedisConnectionLost`` on I/O failure; ``BrokerError`` for error replies.
    func run(on connection: RedisConnection, keys: [[UInt8]], arguments: [[UInt8]], key: StoreKey?) throws
        -> RedisReply
    {
        let loaded = try sha.withLock { $0 } ?? load(on: connection, key: key)
        var reply = try connection.command(evalsha(loaded, keys: keys, arguments: arguments))
        if case .error(let message) = reply, RedisErrorMapping.code(of: message) == "NOSCRIPT" {
            let reloaded = try load(on: connection, key: key)
            reply = try connection.command(evalsha(reloaded, keys: keys, arguments: arguments))
        }
        if case .error(let message) = reply {
            throw RedisErrorMapping.error(message, during: "the \(name) script", key: key)
        }
        return reply
    }

    private func evalsha(_ sha: [UInt8], keys: [[UInt8]], arguments: [[UInt8]]) -> [[UInt8]] {
        [Array("EVALSHA".utf8), sha, Array(String(keys.count).utf8)] + keys + arguments
    }

    private func load(on connection: RedisConnection, key: StoreKey?) throws -> [UInt8] {
        let reply = try connection.command([Array("SCRIPT".utf8), Array("LOAD".utf8), Array(source.utf8)])
        if case .error(let message) = reply {
            throw RedisErrorMapping.error(message, during: "SCRIPT LOAD of the \(name) script", key: key)
        }
        guard let loaded = reply.bytes, loaded.count == 40 else {
            throw BrokerError(.storeFailed, "SCRIPT LOAD of the \(name) script returned no SHA-1", key: key)
        }
        sha.withLock { $0 = loaded }
        return loaded
    }
}

/// The store's Lua scripts. Each touches exactly one key (`KEYS[1]`), so each works unchanged on Redis Cluster.
///
/// Versions are decimal strings, compared as strings: Lua numbers are doubles, and versions exceed 2⁵³. The
/// compare-and-swap script gets `expected + 1` from Swift; the status script increments the decimal string itself.
enum RedisScripts {
    /// Insert-if-absent. `KEYS[1]`: record hash. `ARGV`: key JSON, record blob, version, status.
    /// Returns `{1}` when inserted, or `{0, version, status, record}` (the current record) when one exists.
    static let insert = RedisScript(
        name: "insert",
        source: """
            if redis.call('EXISTS', KEYS[1]) == 1 then
              local cur = redis.call('HMGET', KEYS[1], 'version', 'status', 'record')
              return {0, cur[1], cur[2], cur[3]}
            end
            redis.call('HSET', KEYS[1], 'key', ARGV[1], 'record', ARGV[2], 'version', ARGV[3], 'status', ARGV[4])
            return {1}
            """)

    /// Compare-and-swap on the version. `KEYS[1]`: record hash. `ARGV`: expected version, new version
    /// (expected + 1, computed in Swift), record blob, status.
    /// Returns `{0}` when there is no record, `{1, version, status, record}` (the current record) on a version
    /// mismatch, `{2}` when swapped.
    static let compareAndSwap = RedisScript(
        name: "compare-and-swap",
        source: """
            if redis.call('EXISTS', KEYS[1]) == 0 then return {0} end
            local cur = redis.call('HMGET', KEYS[1], 'version', 'status', 'record')
            if cur[1] ~= ARGV[1] then return {1, cur[1], cur[2], cur[3]} end
            redis.call('HSET', KEYS[1], 'record', ARGV[3], 'version', ARGV[2], 'status', ARGV[4])
            return {2}
            """)

    /// Sets the status and bumps the version (a decimal-string increment, exact past 2⁵³). `KEYS[1]`: record hash.
    /// `ARGV[1]`: the status. Returns `{0}` when there is no record, `{1, version, status, record}` with the
    /// record as it now is (unchanged when it already had the status), `{2}` when the stored version is not a
    /// decimal number.
    static let setStatus = RedisScript(
        name: "set-status",
        source: """
            if redis.call('EXISTS', KEYS[1]) == 0 then return {0} end
            local cur = redis.call('HMGET', KEYS[1], 'version', 'status', 'record')
            if cur[2] == ARGV[1] then return {1, cur[1], cur[2], cur[3]} end
            local v = cur[1]
            if not v or not string.match(v, '^%d+$') then return {2} end
            local digits = {}
            local carry = 1
            for i = #v, 1, -1 do
              local d = string.byte(v, i) - 48 + carry
              if d == 10 then d = 0; carry = 1 else carry = 0 end
              digits[i] = string.char(48 + d)
            end
            local nv = table.concat(digits)
            if carry == 1 then nv = '1' .. nv end
            redis.call('HSET', KEYS[1], 'version', nv, 'status', ARGV[1])
            return {1, nv, ARGV[1], cur[3]}
            """)

    /// Takes or renews a refresh lease. `KEYS[1]`: lease key. `ARGV`: owner, time-to-live in milliseconds.
    /// `SET NX PX` takes a free lease; a lease the same owner holds gets its time-to-live renewed (`PEXPIRE`).
    /// Returns 1 when `owner` holds the lease afterwards, 0 when another owner does.
    static let acquireLease = RedisScript(
        name: "acquire-lease",
        source: """
            if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
            if redis.call('GET', KEYS[1]) == ARGV[1] then
              redis.call('PEXPIRE', KEYS[1], ARGV[2])
              return 1
            end
            return 0
            """)

    /// Releases a lease only if `owner` holds it. `KEYS[1]`: lease key. `ARGV[1]`: owner. Returns 1 when
    /// released, 0 otherwise.
    static let releaseLease = RedisScript(
        name: "release-lease",
        source: """
            if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
            return 0
            """)

    /// Deletes a session only if it still holds the bytes read. `KEYS[1]`: session key. `ARGV[1]`: the blob read.
    /// Returns 1 when deleted (this caller took the session), 0 otherwise.
    static let takeSession = RedisScript(
        name: "take-session",
        source: """
            if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
            return 0
            """)

    /// Replaces a session's blob only if it still holds the bytes read, keeping its time-to-live. `KEYS[1]`:
    /// session key. `ARGV`: the blob read, the new blob. Returns 1 when replaced, 0 otherwise.
    static let resealSession = RedisScript(
        name: "reseal-session",
        source: """
            if redis.call('GET', KEYS[1]) == ARGV[1] then
              redis.call('SET', KEYS[1], ARGV[2], 'KEEPTTL')
              return 1
            end
            return 0
            """)

    /// Every script, for tests.
    static let all: [RedisScript] = [
        insert, compareAndSwap, setStatus, acquireLease, releaseLease, takeSession, resealSession,
    ]
}
