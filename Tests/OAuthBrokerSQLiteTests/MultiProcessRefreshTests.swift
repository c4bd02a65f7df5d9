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
    static let clientID = "mp-client"
    static let clientSecret = "mp-secret"
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

    /// Runs `processCount` helpers against one expired record. With `slowFirstResponse`, the mock processes the
    /// first refresh at once (rotating the token) and sends the response body only after that delay; with `leaseTTL`, the helpers'
    /// refresh leases live that long unless renewed.
    static func runHerd(
        storeURL: String, directory: String, processCount: Int = processCount, leaseTTL: Duration? = nil,
        slowFirstResponse: Duration? = nil
    ) async throws {
        var configuration = MockAuthorizationServer.Configuration()
        configuration.rotatesRefreshTokens = true
        configuration.revokesFamilyOnReuse = true
        configuration.latency = .milliseconds(50)
        try await MockAuthorizationServer.withRunningServer(configuration: configuration) { server in
            server.registerClient(id: clientID, secret: Secret(clientSecret))
            let key = try StoreKey(provider: "test-helper", tenant: "herd", principal: "user")
            let store = try await StoreURL(storeURL).makeStore()
            let grant = try await server.seedExpiredGrant(clientID: clientID, in: store, for: key).grant
            if let slowFirstResponse { server.enqueue(.slowBody(delay: slowFirstResponse)) }
            let goFile = directory + "/go"
            let helper = try TestExecutable.path("oauth-broker-test-helper")
            var arguments = [
                "token", "--store", storeURL, "--token-endpoint", server.tokenEndpoint.absoluteString,
                "--client-id", clientID, "--client-secret", clientSecret, "--tenant", "herd", "--go-file", goFile,
            ]
            if let leaseTTL {
                arguments += ["--lease-ttl-ms", String(Int64(leaseTTL.timeInterval * 1000))]
            }
            let children = try (0..<processCount).map { _ in
                try ChildProcess(executable: helper, arguments: arguments)
            }
            // Wait until every process is ready, then release them at once.
            for child in children {
                var ready = false
                for await line in child.lines where line == "ready" {
                    ready = true
                    break
                }
                #expect(ready, "a child never became ready: \(child.standardError)")
            }
            _ = FileManager.default.createFile(atPath: goFile, contents: Data())
            var tokens: [String] = []
            for child in children {
                for await line in child.lines where line.hasPrefix("token ") {
                    tokens.append(String(line.dropFirst(6)))
                    break
                }
                let status = await child.exitStatus()
                #expect(status == 0, "child failed: \(child.standardError)")
            }
            #expect(tokens.count == processCount)
            #expect(Set(tokens).count == 1, "processes ended with different tokens")
            let statistics = server.statistics
            #expect(statistics.requests(grant: .refreshToken) == 1)
            #expect(statistics.familiesRevokedByReuseDetection == 0)
            let stored = try #require(try await store.record(for: key))
            #expect(tokens.first == stored.accessToken.revealedValue)
            #expect(server.isActive(accessToken: stored.accessToken))
            #expect(server.isActive(refreshToken: try #require(stored.refreshToken)))
            #expect(stored.refreshToken != grant.refreshToken)
        }
    }
}
