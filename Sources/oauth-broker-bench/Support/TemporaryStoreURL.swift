// TEMPORARY: stands in for OAuthBrokerTools.StoreURL until the `stores` branch commits it. Delete on merge.
import Foundation
import OAuthBroker
import OAuthBrokerSQLite

struct StoreURL: Sendable, CustomStringConvertible {
    struct Kind: Sendable, Hashable, CustomStringConvertible {
        let description: String
        static let memory = Kind(description: "memory")
        static let file = Kind(description: "file")
        static let sqlite = Kind(description: "sqlite")
        static let redis = Kind(description: "redis")
    }

    let kind: Kind
    let path: String?
    let description: String

    init(_ string: String) throws {
        description = string
        if string.hasPrefix("memory") {
            kind = .memory
            path = nil
        } else if string.hasPrefix("file:") {
            kind = .file
            path = String(string.dropFirst(5))
        } else if string.hasPrefix("sqlite:") {
            kind = .sqlite
            path = String(string.dropFirst(7))
        } else if string.hasPrefix("redis://") {
            kind = .redis
            path = nil
        } else {
            throw BrokerError(.invalidConfiguration, "unknown store URL")
        }
    }

    func makeStore(now: @escaping @Sendable () -> Date = { Date() }) async throws -> any BrokerStore {
        switch kind {
        case .memory: return MemoryStore(now: now)
        case .file: return try FileStore(configuration: .init(path: path ?? ""), now: now)
        case .sqlite: return try await SQLiteStore(configuration: .init(path: path ?? ""), now: now)
        default: throw BrokerError(.invalidConfiguration, "redis pending")
        }
    }
}
