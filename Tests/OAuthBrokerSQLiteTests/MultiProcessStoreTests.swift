import Foundation
import OAuthBroker
import OAuthBrokerSQLite
import OAuthBrokerTesting
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The shared-file stores, as the test helper names them and as the tests open them.
enum SharedBackend: String, CaseIterable, CustomStringConvertible, Sendable {
    case file, sqlite

    var description: String { rawValue }

    func url(in directory: String) -> String {
        switch self {
        case .file: "file:\(directory)/store.json"
        case .sqlite: "sqlite:\(directory)/store.sqlite"
        }
    }

    func open(in directory: String) async throws -> any BrokerStore {
        switch self {
        case .file: try FileStore(path: directory + "/store.json")
        case .sqlite: try await SQLiteStore(path: directory + "/store.sqlite")
        }
    }
}

/// Stores shared by several OS processes, driven by `oauth-broker-test-helper` (built by `swift test`).
@Suite("Stores shared between processes", .serialized, .timeLimit(.minutes(3)))
struct MultiProcessStoreTests {
    static let key = try! StoreKey(provider: "test-helper", tenant: "mp", principal: "user")

    static let largePadding = 1 << 20

    static func helper(_ arguments: [String]) throws -> ChildProcess {
        try ChildProcess(executable: try TestExecutable.path("oauth-broker-test-helper"), arguments: arguments)
    }

    /// The counter of a record written by the helper, checking every field agrees with it (not torn).
    static func counter(of record: TokenRecord, paddingBytes: Int = 4096) throws -> Int {
        guard case .number(let value)? = record.extraFields["counter"] else {
            throw BrokerError(.storeCorrupted, "no counter")
        }
        let counter = Int(value)
        #expect(record.accessToken == Secret("access-\(counter)"), "access token torn from counter \(counter)")
        #expect(record.refreshToken == Secret("refresh-\(counter)"), "refresh token torn from counter \(counter)")
        let unit = "\(counter)-"
        #expect(record.extraFields["padding"] == .string(String(repeating: unit, count: paddingBytes / unit.count)))
        return counter
    }

    @Test(
        "a writer killed with SIGKILL mid-loop leaves the previous or the new record, never a torn one",
        arguments: SharedBackend.allCases)
    func killedWriter(_ backend: SharedBackend) async throws {
        try await withTemporaryDirectory { directory in
            let url = backend.url(in: directory)
            var lastReported = 0
            for round in 0..<4 {
                // 1 MiB records: the kernel stops a large write() between pages on SIGKILL, so a store that
                // overwrote its file in place would be caught torn.
                let child = try Self.helper([
                    "cas-loop", "--store", url, "--tenant", "mp", "--iterations", "1000000", "--padding-bytes",
                    "\(Self.largePadding)",
                ])
                // Kill after a different number of writes each round, so the kill lands at varied points.
                let target = 5 + round * 7 + Int.random(in: 0..<10)
                var seen = 0
                // Keep reading after the kill: lines already in the pipe report writes that completed.
                for await line in child.lines where line.hasPrefix("progress ") {
                    let fields = line.split(separator: " ")
                    lastReported = Int(fields[3]) ?? lastReported
                    seen += 1
                    if seen == target {
                        // A random delay spreads the kill over the whole of a write cycle.
                        let delay = Duration.microseconds(Int.random(in: 0..<50_000))
                        Task {
                            try? await Task.sleep(for: delay)
                            child.signal(SIGKILL)
                        }
                    }
                }
                let status = await child.exitStatus()
                #expect(status == SIGKILL, "the writer ended with \(status), not SIGKILL: \(child.standardError)")

                let store = try await backend.open(in: directory)
                let record = try #require(try await store.record(for: Self.key))
                let counter = try Self.counter(of: record, paddingBytes: Self.largePadding)
                #expect(
                    counter == lastReported || counter == lastReported + 1,
                    "after the kill the store holds counter \(counter); the writer last reported \(lastReported)")
                // The store stays writable, and the helper's own torn-record check passes.
                guard case .swapped = try await store.compareAndSwap(Self.key, expecting: record.version, with: record)
                else {
                    Issue.record("the store could not be written after the kill")
                    return
                }
                let verify = try Self.helper([
                    "cas-loop", "--store", url, "--tenant", "mp", "--iterations", "1", "--padding-bytes",
                    "\(Self.largePadding)",
                ])
                for await _ in verify.lines {}
                #expect(await verify.exitStatus() == 0, "verification failed: \(verify.standardError)")
                lastReported = counter + 1
            }
            let leftovers = try FileManager.default.contentsOfDirectory(atPath: directory)
            #expect(!leftovers.contains { $0.contains(".corrupt-") }, "a kill produced a corrupt file: \(leftovers)")
        }
    }

    @Test("writer processes racing on one record lose no update", arguments: SharedBackend.allCases)
    func racingProcesses(_ backend: SharedBackend) async throws {
        try await withTemporaryDirectory { directory in
            let url = backend.url(in: directory)
            let processes = 4
            let iterations = 30
            let children = try (0..<processes).map { _ in
                try Self.helper(["cas-loop", "--store", url, "--tenant", "mp", "--iterations", "\(iterations)"])
            }
            for child in children {
                var done = false
                for await line in child.lines where line == "done \(iterations)" { done = true }
                #expect(done, "a writer did not finish: \(child.standardError)")
                #expect(await child.exitStatus() == 0)
            }
            let store = try await backend.open(in: directory)
            let record = try #require(try await store.record(for: Self.key))
            #expect(try Self.counter(of: record) == processes * iterations, "an update was lost")
        }
    }

    @Test("a refresh lease excludes other processes", arguments: SharedBackend.allCases)
    func leaseAcrossProcesses(_ backend: SharedBackend) async throws {
        try await withTemporaryDirectory { directory in
            let url = backend.url(in: directory)
            let processes = 4
            let iterations = 15
            let children = try (0..<processes).map { index in
                try Self.helper([
                    "lease-loop", "--store", url, "--tenant", "mp", "--iterations", "\(iterations)",
                    "--owner", "process-\(index)", "--hold-ms", "2",
                ])
            }
            for child in children {
                var violations = 0
                for await line in child.lines where line == "violation" { violations += 1 }
                #expect(violations == 0, "two processes held the lease at once")
                #expect(await child.exitStatus() == 0, "lease-loop failed: \(child.standardError)")
            }
            let store = try await backend.open(in: directory)
            let record = try #require(try await store.record(for: Self.key))
            #expect(try Self.counter(of: record) == processes * iterations)
        }
    }

    @Test(
        "a lease held by a killed process is taken over once its time-to-live passes",
        arguments: SharedBackend.allCases)
    func leaseOfKilledProcess(_ backend: SharedBackend) async throws {
        try await withTemporaryDirectory { directory in
            let url = backend.url(in: directory)
            let ttl = Duration.milliseconds(1500)
            let clock = ContinuousClock()
            // The holder takes the lease after it starts, so its lease cannot expire before spawnedAt + ttl.
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

            let store = try await backend.open(in: directory)
            let successor = LeaseOwner("successor")
            var tookOver = false
            for _ in 0..<1000 {
                tookOver = try await store.acquireRefreshLease(for: Self.key, owner: successor, ttl: .seconds(60))
                // The store decides expiry during the call, so the bound is the time the call returned (5 ms of
                // slack for the store's wall clock against this monotonic one).
                let returnedAt = clock.now
                if tookOver {
                    #expect(
                        returnedAt - spawnedAt >= ttl - .milliseconds(5), "the dead holder's lease was taken early")
                    break
                }
                try await Task.sleep(for: .milliseconds(20))
            }
            #expect(tookOver, "the lease of the killed holder never expired")
        }
    }
}
