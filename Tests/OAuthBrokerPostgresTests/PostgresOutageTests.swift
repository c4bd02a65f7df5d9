import Foundation
import OAuthBroker
import OAuthBrokerPostgres
import OAuthBrokerTesting
import Synchronization
import Testing

/// A throwaway PostgreSQL server the test starts itself with `scripts/postgres.sh` (initdb in a temporary
/// directory, a free loopback port) and can stop (`pg_ctl stop -m immediate`: the server's processes exit at once,
/// clients are cut off, as in a crash) and start again.
struct ThrowawayPostgres {
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("scripts/postgres.sh").path
    static let isInstalled =
        (try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql"))?.isEmpty == false

    let directory: String
    let port: Int

    /// Runs the script and returns its standard output.
    @discardableResult
    static func script(_ arguments: [String]) async throws -> String {
        let child = try ChildProcess(executable: "/bin/bash", arguments: [script] + arguments)
        var output: [String] = []
        for await line in child.lines { output.append(line) }
        let status = await child.exitStatus()
        guard status == 0 else {
            throw BrokerError(
                .storeFailed, "postgres.sh \(arguments.first ?? "") exited \(status): \(child.standardError)")
        }
        return output.joined(separator: "\n").trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Starts (or restarts) the server; returns its URL.
    @discardableResult
    func start() async throws -> String { try await Self.script(["start", directory, String(port)]) }

    /// Stops the server with `pg_ctl stop -m immediate`.
    func stopImmediately() async throws { try await Self.script(["stop", directory, "immediate"]) }

    /// Stops the server with `pg_ctl stop -m fast` (cleanup).
    func stop() async { _ = try? await Self.script(["stop", directory]) }
}

@Suite(
    "PostgresStore during a PostgreSQL outage",
    .enabled(if: ThrowawayPostgres.isInstalled || PostgresTestEnvironment.isCI, "needs PostgreSQL installed"),
    .timeLimit(.minutes(3)))
struct PostgresOutageTests {
    @Test("server stopped with pg_ctl stop -m immediate mid-run: typed storeUnavailable within a bound, then recovery")
    func immediateStopAndRestart() async throws {
        try await withTemporaryDirectory { directory in
            // Under root the server runs as `postgres`, which must reach its data directory inside this one.
            try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: directory)
            let server = ThrowawayPostgres(directory: directory + "/pg", port: try LoopbackPort.unused())
            do {
                try await Self.run(server)
            } catch {
                // The server's log says why a connection failed; CI keeps only the test output.
                let log = (try? String(contentsOfFile: server.directory + "/server.log", encoding: .utf8)) ?? ""
                print(
                    "throwaway PostgreSQL server log (last lines):\n"
                        + log.split(separator: "\n").suffix(30).joined(separator: "\n"))
                await server.stop()
                throw error
            }
            await server.stop()
        }
    }

    static func run(_ server: ThrowawayPostgres) async throws {
        do {
            var configuration = try PostgresStore.Configuration(url: try await server.start())
            // A new cluster's first connection (a backend fork and a SCRAM exchange) and migration can take seconds on
            // a loaded machine: migrate with generous timeouts first, so the short bounds below apply to the outage.
            var setup = configuration
            setup.connectTimeout = .seconds(30)
            setup.operationTimeout = .seconds(60)
            await (try await PostgresStore(configuration: setup)).shutdown()
            configuration.operationTimeout = .seconds(3)
            configuration.connectTimeout = .seconds(2)
            let store = try await PostgresStore(configuration: configuration)
            let key = try StoreKey(provider: "p", tenant: "outage", principal: "u")
            let record = TokenRecord(
                accessToken: Secret("a"), issuedAt: Date(), expiresAt: Date().addingTimeInterval(3600),
                version: TokenRecord.initialVersion(at: Date()))
            #expect(try await store.insert(record, for: key) == .inserted(record))

            // A writer keeps compare-and-swapping while the server goes away and comes back.
            let log = Mutex<(swaps: Int, errors: [BrokerError], others: [String])>((0, [], []))
            let stop = Atomic<Bool>(false)
            let writer = Task {
                let clock = ContinuousClock()
                for _ in 0..<100_000 where !stop.load(ordering: .relaxed) {
                    let started = clock.now
                    do {
                        guard let current = try await store.record(for: key) else { continue }
                        _ = try await store.compareAndSwap(key, expecting: current.version, with: current)
                        log.withLock { $0.swaps += 1 }
                    } catch let error as BrokerError {
                        #expect(clock.now - started < .seconds(10), "a failing call took \(clock.now - started)")
                        log.withLock { $0.errors.append(error) }
                        try? await Task.sleep(for: .milliseconds(50))
                    } catch {
                        log.withLock { $0.others.append(String(describing: type(of: error))) }
                    }
                }
            }
            #expect(await eventually { log.withLock { $0.swaps } >= 5 }, "the writer never got going")
            try await server.stopImmediately()
            #expect(await eventually { log.withLock { $0.errors.count } >= 3 }, "no errors while the server was down")

            // Every kind of call fails typed, within a bound, while the server is down.
            let clock = ContinuousClock()
            let started = clock.now
            await #expect(throws: BrokerError.storeUnavailable) { try await store.record(for: key) }
            await #expect(throws: BrokerError.storeUnavailable) {
                try await store.acquireRefreshLease(for: key, owner: .random(), ttl: .seconds(5))
            }
            #expect(clock.now - started < .seconds(10))

            try await server.start()
            let swapsAtRestart = log.withLock { $0.swaps }
            #expect(
                await eventually(attempts: 400) { log.withLock { $0.swaps } >= swapsAtRestart + 5 },
                "the store did not recover after the restart")
            stop.store(true, ordering: .relaxed)
            await writer.value
            let (errors, others) = log.withLock { ($0.errors, $0.others) }
            #expect(others.isEmpty, "non-BrokerErrors: \(others)")
            for error in errors { #expect(error.code == .storeUnavailable, "\(error)") }
            #expect(try await store.record(for: key) != nil)
            await store.shutdown()
        }
    }
}
