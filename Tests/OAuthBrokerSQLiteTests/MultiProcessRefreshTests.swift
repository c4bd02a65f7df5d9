import Foundation
import OAuthBroker
import OAuthBrokerTesting
import OAuthBrokerTools
import Testing

/// Eight OS processes share one store and ask at once for a token that has expired, against a provider that
/// rotates refresh tokens and revokes the whole family when a rotated one is presented again. Exactly one refresh
/// may reach the provider, and every process must end with the same new token.
@Suite("One refresh across processes", .serialized, .timeLimit(.minutes(3)))
struct MultiProcessRefreshTests {
    static let processCount = 8
    static let redisURL = ProcessInfo.processInfo.environment["OAUTH_BROKER_REDIS_URL"]
    static let isCI = ProcessInfo.processInfo.environment["CI"] != nil

    static func storeURL(_ backend: String, directory: String) -> String {
        switch backend {
        case "file": return "file:\(directory)/store.json"
        case "sqlite": return "sqlite:\(directory)/store.sqlite"
        default:
            let base = redisURL ?? "redis://127.0.0.1:6379/0"
            let separator = base.contains("?") ? "&" : "?"
            return base + separator + "prefix=mp-\(UUID().uuidString.prefix(8)):"
        }
    }

    @Test(
        "8 processes sharing a JSON file or a SQLite file refresh an expired token once",
        arguments: [
            "file", "sqlite",
        ])
    func sharedFile(_ backend: String) async throws {
        try await withTemporaryDirectory { directory in
            try await Self.runHerd(storeURL: Self.storeURL(backend, directory: directory), directory: directory)
        }
    }

    @Test(
        "8 processes sharing one Redis refresh an expired token once",
        .enabled(if: redisURL != nil || isCI, "needs OAUTH_BROKER_REDIS_URL"))
    func sharedRedis() async throws {
        try #require(Self.redisURL != nil, "OAUTH_BROKER_REDIS_URL must be set under CI")
        try await withTemporaryDirectory { directory in
            try await Self.runHerd(storeURL: Self.storeURL("redis", directory: directory), directory: directory)
        }
    }

    @Test(
        "processes whose provider answers later than the lease's time-to-live still refresh once (lease keep-alive)",
        arguments: ["file", "sqlite"])
    func providerSlowerThanLease(_ backend: String) async throws {
        try await withTemporaryDirectory { directory in
            try await Self.runHerd(
                storeURL: Self.storeURL(backend, directory: directory), directory: directory, processCount: 3,
                leaseTTL: .seconds(3), slowFirstResponse: .seconds(8))
        }
    }

    /// Runs `processCount` helpers against one expired record (``RefreshHerd``) and checks the outcome.
    static func runHerd(
        storeURL: String, directory: String, processCount: Int = processCount, leaseTTL: Duration? = nil,
        slowFirstResponse: Duration? = nil
    ) async throws {
        let store = try await StoreURL(storeURL).makeStore()
        let outcome = try await RefreshHerd.run(
            storeURL: storeURL, store: store, directory: directory, processCount: processCount, leaseTTL: leaseTTL,
            slowFirstResponse: slowFirstResponse)
        let problems = outcome.problems(processCount: processCount)
        #expect(problems.isEmpty, "\(problems.joined(separator: "; "))")
    }
}
