import Foundation
import OAuthBroker
import OAuthBrokerRedis
import OAuthBrokerTesting
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Several OS processes (`oauth-broker-test-helper`, opening the store from a `redis://` store URL) share one Redis.
@Suite(
    "RedisStore shared between processes", .enabled(if: RedisTestEnvironment.hasServer, "needs OAUTH_BROKER_REDIS_URL"),
    .timeLimit(.minutes(3)))
struct RedisMultiProcessTests {
    static let key = try! StoreKey(provider: "test-helper", tenant: "mp", principal: "user")

    /// The shared server's URL with a fresh key prefix, and a store on it.
    static func storeURL() throws -> (url: String, store: RedisStore) {
        let configuration = try RedisTestEnvironment.configuration()
        let base = try #require(RedisTestEnvironment.url)
        let url = base + (base.contains("?") ? "&" : "?") + "prefix=\(configuration.keyPrefix)"
        return (url, try RedisStore(configuration: configuration))
    }

    static func helper(_ arguments: [String]) throws -> ChildProcess {
        try ChildProcess(executable: try TestExecutable.path("oauth-broker-test-helper"), arguments: arguments)
    }

    static func counter(of record: TokenRecord) throws -> Int {
        guard case .number(let value)? = record.extraFields["counter"] else {
            throw BrokerError(.storeCorrupted, "no counter")
        }
        #expect(record.accessToken == Secret("access-\(Int(value))"), "a record was torn")
        return Int(value)
    }

    @Test("writer processes racing on one record lose no update")
    func racingProcesses() async throws {
        let (url, store) = try Self.storeURL()
        let processes = 4
        let iterations = 40
        let children = try (0..<processes).map { _ in
            try Self.helper(["cas-loop", "--store", url, "--tenant", "mp", "--iterations", "\(iterations)"])
        }
        for child in children {
            var done = false
            for await line in child.lines where line == "done \(iterations)" { done = true }
            #expect(done, "a writer did not finish: \(child.standardError)")
            #expect(await child.exitStatus() == 0)
        }
        let record = try #require(try await store.record(for: Self.key))
        #expect(try Self.counter(of: record) == processes * iterations, "an update was lost")
        try await store.deleteAllKeysUnderPrefix()
    }

    @Test("a refresh lease excludes other processes")
    func leaseAcrossProcesses() async throws {
        let (url, store) = try Self.storeURL()
        let processes = 4
        let iterations = 15
        let children = try (0..<processes).map { index in
            try Self.helper([
                "lease-loop", "--store", url, "--tenant", "mp", "--iterations", "\(iterations)", "--owner",
                "process-\(index)", "--hold-ms", "2",
            ])
        }
        for child in children {
            var violations = 0
            for await line in child.lines where line == "violation" { violations += 1 }
            #expect(violations == 0, "two processes held the lease at once")
            #expect(await child.exitStatus() == 0, "lease-loop failed: \(child.standardError)")
        }
        let record = try #require(try await store.record(for: Self.key))
        #expect(try Self.counter(of: record) == processes * iterations)
        try await store.deleteAllKeysUnderPrefix()
    }

    @Test("a lease held by a killed process is taken over once its time-to-live passes")
    func leaseOfKilledProcess() async throws {
        let (url, store) = try Self.storeURL()
        let ttl = Duration.milliseconds(1500)
        let clock = ContinuousClock()
        let spawnedAt = clock.now
        let holder = try Self.helper([
            "lease-hold", "--store", url, "--tenant", "mp", "--owner", "doomed", "--ttl-ms", "1500",
        ])
        var acquired = false
        for await line in holder.lines where line == "acquired" {
            acquired = true
            break
        }
        #expect(acquired, "the holder did not get the lease: \(holder.standardError)")
        holder.signal(SIGKILL)
        #expect(await holder.exitStatus() == SIGKILL)

        let successor = LeaseOwner("successor")
        #expect(
            !(try await store.acquireRefreshLease(for: Self.key, owner: successor, ttl: .seconds(60)))
                || clock.now - spawnedAt >= ttl, "the dead holder's lease was taken early")
        var tookOver = false
        for _ in 0..<1000 {
            tookOver = try await store.acquireRefreshLease(for: Self.key, owner: successor, ttl: .seconds(60))
            if tookOver { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(tookOver, "the lease of the killed holder never expired")
        #expect(clock.now - spawnedAt >= ttl - .milliseconds(5))
        try await store.deleteAllKeysUnderPrefix()
    }
}
