import Foundation
import OAuthBroker
import OAuthBrokerRedis
import Testing

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Outages, hangs, script flushes, killed connections and bad credentials, each against a throwaway
/// `redis-server` this suite starts, stops, freezes and restarts by PID on its own port.
@Suite(
    "RedisStore failures (throwaway redis-server)",
    .enabled(if: RedisTestEnvironment.hasRedisServerBinary, "needs redis-server on PATH"),
    .timeLimit(.minutes(2)))
struct RedisFailureTests {
    static func configuration(
        _ server: RedisServerProcess, _ adjust: (inout RedisStore.Configuration) -> Void = { _ in }
    )
        throws -> RedisStore.Configuration
    {
        var configuration = try RedisStore.Configuration(url: server.url())
        configuration.keyPrefix = RedisTestEnvironment.uniquePrefix()
        configuration.connectTimeout = .milliseconds(500)
        configuration.commandTimeout = .milliseconds(500)
        adjust(&configuration)
        return configuration
    }

    static func key() throws -> StoreKey {
        try StoreKey(provider: "acme", tenant: "t-\(UInt32.random(in: 0...UInt32.max))", principal: "u")
    }

    static func record(_ tag: String = "x") -> TokenRecord {
        TokenRecord(
            accessToken: Secret("at-\(tag)"), refreshToken: Secret("rt-\(tag)"), issuedAt: Date(),
            expiresAt: Date().addingTimeInterval(3600), version: TokenRecord.initialVersion(at: Date()))
    }

    @Test("Redis stopped mid-run: typed transient storeUnavailable, then recovery after restart")
    func outageAndRecovery() async throws {
        let server = try await RedisServerProcess.start()
        let store = try RedisStore(configuration: Self.configuration(server))
        let key = try Self.key()
        let first = Self.record()
        #expect(try await store.insert(first, for: key) == .inserted(first))

        try await server.stop()
        // Every kind of operation fails with the same typed, transient error (and returns: no hang).
        let operations: [(String, @Sendable () async throws -> Void)] = [
            ("record", { _ = try await store.record(for: key) }),
            ("insert", { _ = try await store.insert(Self.record(), for: key) }),
            ("compareAndSwap", { _ = try await store.compareAndSwap(key, expecting: 1, with: Self.record()) }),
            ("keys", { _ = try await store.keys(tenant: nil) }),
            ("lease", { _ = try await store.acquireRefreshLease(for: key, owner: .random(), ttl: .seconds(5)) }),
            ("takeSession", { _ = try await store.takeSession(id: "abc") }),
            ("ping", { try await store.ping() }),
        ]
        for (name, operation) in operations {
            let error = await #expect(throws: BrokerError.storeUnavailable, "\(name) during the outage") {
                try await operation()
            }
            #expect(error?.isTransient == true)
        }

        try await server.start()
        // The server lost its data (no persistence); the store reconnects on its own.
        let recovered = await eventually { (try? await store.ping()) != nil }
        #expect(recovered, "the store did not recover after Redis came back")
        let again = Self.record("again")
        #expect(try await store.insert(again, for: key) == .inserted(again))
        #expect(try await store.record(for: key)?.accessToken == Secret("at-again"))
        try await server.stop()
    }

    @Test("a frozen server: the command timeout gives storeUnavailable; thawed, the store recovers")
    func frozenServer() async throws {
        let server = try await RedisServerProcess.start()
        let store = try RedisStore(configuration: Self.configuration(server))
        let key = try Self.key()
        _ = try await store.insert(Self.record(), for: key)
        let opened = await store.connectionsOpened

        server.freeze()
        await #expect(throws: BrokerError.storeUnavailable) { try await store.record(for: key) }
        // A new connection is accepted by the kernel, but its first command times out too.
        await #expect(throws: BrokerError.storeUnavailable) { _ = try await store.keys(tenant: nil) }
        server.thaw()

        let recovered = await eventually { (try? await store.record(for: key)) != nil }
        #expect(recovered)
        #expect(await store.connectionsOpened > opened, "the timed-out connection was reused instead of replaced")
        try await server.stop()
    }

    @Test("all connections stuck: waiting for the pool ends with storeUnavailable after poolTimeout")
    func poolTimeout() async throws {
        let server = try await RedisServerProcess.start()
        let store = try RedisStore(
            configuration: Self.configuration(server) {
                $0.poolSize = 1
                $0.commandTimeout = .seconds(3)
                $0.poolTimeout = .milliseconds(100)
            })
        try await store.ping()
        server.freeze()
        // Four operations, one connection: one holds it until the command timeout, three wait and give up.
        let errors = await withTaskGroup(of: BrokerError?.self) { group in
            for _ in 0..<4 {
                group.addTask {
                    do {
                        try await store.ping()
                        return nil
                    } catch {
                        return error as? BrokerError
                    }
                }
            }
            return await group.reduce(into: [BrokerError?]()) { $0.append($1) }
        }
        #expect(errors.count == 4)
        #expect(errors.allSatisfy { $0?.code == .storeUnavailable })
        let poolTimeouts = errors.filter { $0?.message.contains("pool exhausted") == true }.count
        #expect(poolTimeouts == 3, "\(poolTimeouts) of 4 operations timed out waiting for the only connection")
        server.thaw()
        #expect(await eventually { (try? await store.ping()) != nil })
        try await server.stop()
    }

    @Test("SCRIPT FLUSH: NOSCRIPT is answered by reloading the scripts")
    func noscriptRecovery() async throws {
        let server = try await RedisServerProcess.start()
        let store = try RedisStore(configuration: Self.configuration(server))
        let key = try Self.key()
        let owner = LeaseOwner.random()
        _ = try await store.insert(Self.record(), for: key)
        var version = try #require(try await store.record(for: key)).version
        guard case .swapped(let first) = try await store.compareAndSwap(key, expecting: version, with: Self.record())
        else {
            Issue.record("compare-and-swap failed")
            return
        }
        version = first.version
        #expect(try await store.acquireRefreshLease(for: key, owner: owner, ttl: .seconds(30)))
        let shas = RedisStore.loadedScripts
        let casSHA = try #require(shas["compare-and-swap"])
        #expect(try await store.command("SCRIPT", "EXISTS", casSHA) == .array([.integer(1)]))

        #expect(try await store.command("SCRIPT", "FLUSH") == .status("OK"))
        #expect(try await store.command("SCRIPT", "EXISTS", casSHA) == .array([.integer(0)]))

        // Every script still works after the flush.
        guard case .swapped = try await store.compareAndSwap(key, expecting: version, with: Self.record("b")) else {
            Issue.record("compare-and-swap failed after SCRIPT FLUSH")
            return
        }
        #expect(try await store.command("SCRIPT", "EXISTS", casSHA) == .array([.integer(1)]))
        _ = try await store.command("SCRIPT", "FLUSH")
        #expect(try await store.setStatus(.revoked, for: key)?.status == .revoked)
        _ = try await store.command("SCRIPT", "FLUSH")
        let fresh = Self.record("fresh")
        #expect(try await store.insert(fresh, for: try Self.key()) == .inserted(fresh))
        _ = try await store.command("SCRIPT", "FLUSH")
        #expect(try await store.acquireRefreshLease(for: key, owner: owner, ttl: .seconds(30)))
        _ = try await store.command("SCRIPT", "FLUSH")
        try await store.releaseRefreshLease(for: key, owner: owner)
        #expect(try await store.command("EXISTS", store.leaseKeyName(key)) == .integer(0))
        try await server.stop()
    }

    @Test("connections killed by the server are replaced")
    func killedConnections() async throws {
        let server = try await RedisServerProcess.start()
        // 64 reads share four connections: on a loaded machine the queue for them can outlast the 5 s default.
        let store = try RedisStore(
            configuration: Self.configuration(server) {
                $0.poolSize = 4
                $0.poolTimeout = .seconds(30)
                $0.commandTimeout = .seconds(5)
            })
        let admin = try RedisStore(configuration: Self.configuration(server) { $0.poolSize = 1 })
        let key = try Self.key()
        _ = try await store.insert(Self.record(), for: key)
        // Open all four connections.
        _ = try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<64 { group.addTask { _ = try await store.record(for: key) } }
            try await group.waitForAll()
        }
        let before = await store.connectionsOpened
        let killed = try #require(try await admin.command("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes").integer)
        #expect(killed == Int64(before))
        for _ in 0..<8 { #expect(try await store.record(for: key) != nil) }
        #expect(await store.connectionsOpened > before)
        try await server.stop()
    }

    @Test("wrong password: a clear, non-transient error that never shows the password")
    func wrongPassword() async throws {
        let password = "p@ss:w/rd%-\(UInt32.random(in: 0...UInt32.max))"
        let server = try await RedisServerProcess.start(extraArguments: [
            "--requirepass", password, "--user", "alice", "on", ">alice-Pw-42", "~*", "&*", "+@all",
        ])

        let wrong = "Wr0ngPassw0rd-\(UInt32.random(in: 0...UInt32.max))"
        let rejected = try RedisStore(configuration: Self.configuration(server) { $0.password = Secret(wrong) })
        let error = await #expect(throws: BrokerError.invalidConfiguration) { try await rejected.ping() }
        #expect(error?.isTransient == false)
        let text = "\(String(describing: error)) \(String(reflecting: error))"
        #expect(!text.contains(wrong) && !text.contains(password))
        #expect(text.contains("rejected the password"))

        // No password at all: the server answers NOAUTH, also a configuration error.
        let anonymous = try RedisStore(configuration: Self.configuration(server))
        await #expect(throws: BrokerError.invalidConfiguration) { try await anonymous.ping() }

        // The right password, percent-encoded in the URL; and an ACL user on database 1.
        let url = server.url(password: password)
        #expect(url.contains("%40") && !url.contains(password))
        let good = try RedisStore(url: url + "?prefix=\(RedisTestEnvironment.uniquePrefix())")
        try await good.ping()
        let alice = try RedisStore(url: server.url(password: "alice-Pw-42", user: "alice", database: 1))
        let key = try Self.key()
        _ = try await alice.insert(Self.record(), for: key)
        #expect(try await alice.command("CLIENT", "INFO").string?.contains("user=alice") == true)
        #expect(try await alice.command("CLIENT", "INFO").string?.contains("db=1") == true)
        #expect(try await good.record(for: key) == nil, "database 0 sees database 1's record")
        let wrongUser = try RedisStore(url: server.url(password: password, user: "alice"))
        await #expect(throws: BrokerError.invalidConfiguration) { try await wrongUser.ping() }
        try await server.stop()
    }

    @Test("an unreachable port fails fast with storeUnavailable")
    func unreachable() async throws {
        let server = try await RedisServerProcess.start()
        let configuration = try Self.configuration(server)
        try await server.stop()
        let store = try RedisStore(configuration: configuration)
        let error = await #expect(throws: BrokerError.storeUnavailable) { try await store.ping() }
        #expect(error?.message.contains("127.0.0.1:\(server.port)") == true)
    }

    @Test("SIGPIPE from writing to a closed socket does not kill the process")
    func brokenPipeIsSurvived() throws {
        var fds: [Int32] = [0, 0]
        #if canImport(Glibc)
            let type = Int32(SOCK_STREAM.rawValue)
        #else
            let type = SOCK_STREAM
        #endif
        try #require(socketpair(AF_UNIX, type, 0, &fds) == 0)
        close(fds[1])
        defer { close(fds[0]) }
        let byte: [UInt8] = [1]
        let (written, error) = SignalPipeGuard.run { (write(fds[0], byte, 1), errno) }
        #expect(written == -1)
        #expect(error == EPIPE)
        #if os(Linux)
            var pending = sigset_t()
            sigpending(&pending)
            #expect(sigismember(&pending, SIGPIPE) == 0, "a SIGPIPE was left pending")
        #endif
    }
}
