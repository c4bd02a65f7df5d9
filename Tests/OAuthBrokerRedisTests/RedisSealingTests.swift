import Foundation
import OAuthBroker
import OAuthBrokerRedis
import OAuthBrokerTesting
import Synchronization
import Testing

@Suite("RedisStore sealed", .enabled(if: RedisTestEnvironment.hasServer, "needs OAUTH_BROKER_REDIS_URL"))
struct RedisSealingTests {
    /// Every key under the prefix with its value (hash fields, string, sorted-set members), sorted by name.
    static func dump(_ store: RedisStore) async throws -> [(name: [UInt8], value: [[UInt8]])] {
        let pattern = store.configuration.keyPrefix.replacingOccurrences(of: "*", with: "\\*") + "*"
        var names: [[UInt8]] = []
        var cursor = "0"
        for _ in 0..<10_000 {
            let reply = try await store.command("SCAN", cursor, "MATCH", pattern, "COUNT", "500")
            guard case .array(let parts) = reply, parts.count == 2, case .bulk(let next) = parts[0],
                case .array(let found) = parts[1]
            else { throw BrokerError.storeFailed }
            for case .bulk(let name) in found { names.append(name) }
            cursor = String(decoding: next, as: UTF8.self)
            if cursor == "0" { break }
        }
        var result: [(name: [UInt8], value: [[UInt8]])] = []
        for name in names.sorted(by: { $0.lexicographicallyPrecedes($1) }) {
            guard case .status(let type) = try await store.command([Array("TYPE".utf8), name]) else {
                throw BrokerError.storeFailed
            }
            let reply: RedisReply
            switch type {
            case "hash": reply = try await store.command([Array("HGETALL".utf8), name])
            case "string": reply = try await store.command([Array("GET".utf8), name])
            case "zset":
                reply = try await store.command([Array("ZRANGE".utf8), name, Array("0".utf8), Array("-1".utf8)])
            default: continue  // leases (strings) are covered; nothing else is written
            }
            var values: [[UInt8]] = []
            switch reply {
            case .bulk(let bytes): values = [bytes]
            case .array(let elements):
                var pairs: [[UInt8]] = []
                for case .bulk(let bytes) in elements { pairs.append(bytes) }
                // HGETALL's field order is not fixed: sort field/value pairs.
                if type == "hash" {
                    let fields = stride(from: 0, to: pairs.count - 1, by: 2).map { pairs[$0] + [0] + pairs[$0 + 1] }
                    values = fields.sorted { $0.lexicographicallyPrecedes($1) }
                } else {
                    values = pairs
                }
            default: break
            }
            result.append((name, values))
        }
        return result
    }

    @Test("sealed-store scenarios against the raw values: no plaintext, moved blob, missing key, plain, rotation")
    func scenarios() async throws {
        let base = try RedisTestEnvironment.store()
        let prefix = base.configuration.keyPrefix
        let opened = Mutex<[RedisStore]>([base])
        let scenarios = SealedStoreScenarios(
            makeStore: { codec in
                let store = try RedisTestEnvironment.store(codec: codec) { $0.keyPrefix = prefix }
                opened.withLock { $0.append(store) }
                return store
            },
            snapshot: {
                Array(try await Self.dump(base).flatMap { $0.name + [1] + Array($0.value.joined(separator: [2])) })
            },
            blobs: {
                var blobs: [[UInt8]] = []
                for (name, value) in try await Self.dump(base) {
                    let text = String(decoding: name, as: UTF8.self)
                    if text.hasPrefix(prefix + "record:") {
                        let field = Array("record".utf8) + [0]
                        blobs += value.filter { $0.starts(with: field) }.map { Array($0.dropFirst(field.count)) }
                    } else if text.hasPrefix(prefix + "session:") {
                        blobs += value
                    }
                }
                return blobs
            },
            copyRecordBlob: { from, to in
                let reply = try await base.command("HGET", base.recordKeyName(from), "record")
                guard case .bulk(let blob) = reply else { throw BrokerError.storeFailed }
                _ = try await base.command(
                    [Array("HSET".utf8), Array(base.recordKeyName(to).utf8), Array("record".utf8), blob])
            })
        try await scenarios.run()
        try await base.deleteAllKeysUnderPrefix()
        for store in opened.withLock({ $0 }) { await store.shutdown() }
    }
}
