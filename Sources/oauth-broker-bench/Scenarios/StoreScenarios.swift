import ArgumentParser
import Foundation
import OAuthBroker
import OAuthBrokerTools
import Synchronization

/// Options of the raw store scenarios.
struct StoreLoopOptions: ParsableArguments {
    @OptionGroup var loop: LoopOptions
    @OptionGroup var storeOptions: StoreOptions

    @Flag(
        help:
            "Skip the raw baseline (SQLite SELECT loop, hiredis GET loop, postgres-nio SELECT / UPDATE … WHERE version loop)."
    )
    var noBaseline = false
}

/// A record like the ones the broker stores, for seeding.
func sampleRecord(at now: Date = Date()) -> TokenRecord {
    TokenRecord(
        accessToken: Secret("at-" + String(repeating: "x", count: 40)),
        refreshToken: Secret("rt-" + String(repeating: "y", count: 40)),
        scopes: try! ScopeSet(["read", "write"]), issuedAt: now, expiresAt: now.addingTimeInterval(3600),
        version: TokenRecord.initialVersion(at: now))
}

/// Inserts `record` for `key` (or finds it there) and returns what is stored.
func seed(_ store: any BrokerStore, key: StoreKey, record: TokenRecord) async throws -> TokenRecord {
    switch try await store.insert(record, for: key) {
    case .inserted(let stored): return stored
    case .exists(let current): return current
    }
}

/// A key for the store scenarios, unique to this run.
func benchKey(_ label: String, run: UInt32, index: Int) throws -> StoreKey {
    try StoreKey(provider: "bench", tenant: "\(label)-\(run)", principal: "p\(index)", scopes: ["read", "write"])
}

/// Prints the raw-library baseline for reading `key`'s record from the store at `url`, if there is one, and
/// returns its rate.
private func storeFetchBaseline(
    url: StoreURL, urlString: String, key: StoreKey, record: TokenRecord, threads: Int, duration: Duration
) throws -> Double? {
    let result: Throughput
    let name: String
    if url.kind == .sqlite, let path = url.path {
        name = "sqlite3_step SELECT by primary key"
        result = try SQLiteBaseline.selectLoop(
            path: path, storageID: key.storageID, threads: threads, duration: duration)
    } else if url.kind == .redis {
        name = "hiredis GET (redisCommandArgv)"
        let blob = try JSONStoreCodec().encode(record, for: key)
        result = try HiredisBaseline.getLoop(url: urlString, value: blob, threads: threads, duration: duration)
    } else {
        return nil
    }
    var line = JSONLine(scenario: "store-fetch")
    line.set("baseline", true)
    line.set("name", name)
    line.set("store", url.kind.description)
    line.set("tasks", threads)
    result.write(to: &line)
    line.emit()
    return result.perSecond
}

/// Prints a baseline line and returns its rate.
private func emitBaseline(_ scenario: String, name: String, store: StoreURL, tasks: Int, _ result: Throughput)
    -> Double
{
    var line = JSONLine(scenario: scenario)
    line.set("baseline", true)
    line.set("name", name)
    line.set("store", store.kind.description)
    line.set("tasks", tasks)
    result.write(to: &line)
    line.emit()
    return result.perSecond
}

/// `store-fetch`: C tasks call `record(for:)` on one seeded key for D seconds.
struct StoreFetchScenario: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "store-fetch",
        abstract: "Raw store reads: C tasks call record(for:) on one key for D seconds (plus the C-library baseline).")

    @OptionGroup var options: StoreLoopOptions

    func run() async throws {
        let (url, store) = try await openStore(options.storeOptions)
        let key = try benchKey("fetch", run: UInt32.random(in: 0...UInt32.max), index: 0)
        let record = try await seed(store, key: key, record: sampleRecord())
        let duration = Duration.seconds(options.loop.seconds)
        let baseline: Double?
        if options.noBaseline {
            baseline = nil
        } else if url.kind == .postgres {
            let result = try await PostgresBaseline.selectLoop(
                url: options.storeOptions.store, key: key, tasks: options.loop.tasks, duration: duration)
            baseline = emitBaseline(
                "store-fetch", name: "postgres-nio prepared SELECT by primary key", store: url,
                tasks: options.loop.tasks,
                result)
        } else {
            baseline = try await onDedicatedThread(name: "baseline") {
                try storeFetchBaseline(
                    url: url, urlString: options.storeOptions.store, key: key, record: record,
                    threads: options.loop.tasks, duration: duration)
            }
        }
        let result = try await Workers.timed(tasks: options.loop.tasks, duration: duration) { _ in
            guard try await store.record(for: key) != nil else { throw BenchError("the seeded record vanished") }
        }
        var line = JSONLine(scenario: "store-fetch")
        line.set("store", url.kind.description)
        line.set("sealed", options.storeOptions.sealed)
        line.set("tasks", options.loop.tasks)
        result.write(to: &line)
        line.set("idp_requests", 0)
        if let baseline { line.set("ratio", result.perSecond / baseline, digits: 4) }
        line.emit()
        _ = try? await store.deleteRecord(for: key)
    }
}

/// `store-cas`: C tasks each compare-and-swap their own key in a loop for D seconds.
struct StoreCASScenario: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "store-cas",
        abstract: "Raw store writes: C tasks each compareAndSwap their own key in a loop for D seconds.")

    @OptionGroup var options: StoreLoopOptions

    func run() async throws {
        let (url, store) = try await openStore(options.storeOptions)
        let run = UInt32.random(in: 0...UInt32.max)
        var keys: [StoreKey] = []
        var seeded: [TokenRecord] = []
        for index in 0..<options.loop.tasks {
            let key = try benchKey("cas", run: run, index: index)
            keys.append(key)
            seeded.append(try await seed(store, key: key, record: sampleRecord()))
        }
        let duration = Duration.seconds(options.loop.seconds)
        var baseline: Double?
        var baselineKeys: [StoreKey] = []
        if !options.noBaseline, url.kind == .postgres {
            // The raw loop swaps rows of its own, seeded through the store, writing a plain record's blob.
            var versions: [UInt64] = []
            for index in 0..<options.loop.tasks {
                let key = try benchKey("cas-baseline", run: run, index: index)
                baselineKeys.append(key)
                versions.append(try await seed(store, key: key, record: sampleRecord()).version)
            }
            let blob = try JSONStoreCodec().encode(sampleRecord(), for: keys[0])
            let result = try await PostgresBaseline.swapLoop(
                url: options.storeOptions.store, keys: baselineKeys, versions: versions, blob: blob, duration: duration)
            baseline = emitBaseline(
                "store-cas", name: "postgres-nio prepared UPDATE … WHERE version RETURNING", store: url,
                tasks: options.loop.tasks, result)
        }
        let state = CASState(records: seeded)
        let taskKeys = keys
        let result = try await Workers.timed(tasks: options.loop.tasks, duration: duration) { task in
            let current = state.record(task)
            switch try await store.compareAndSwap(taskKeys[task], expecting: current.version, with: current) {
            case .swapped(let stored): state.set(task, stored)
            case .conflict: throw BenchError("a private key saw a conflict")
            case .missing: throw BenchError("a seeded record vanished")
            }
        }
        var line = JSONLine(scenario: "store-cas")
        line.set("store", url.kind.description)
        line.set("sealed", options.storeOptions.sealed)
        line.set("tasks", options.loop.tasks)
        result.write(to: &line)
        line.set("idp_requests", 0)
        if let baseline { line.set("ratio", result.perSecond / baseline, digits: 4) }
        line.emit()
        for key in keys + baselineKeys { _ = try? await store.deleteRecord(for: key) }
    }
}

/// Each task's latest record; a task touches only its own slot (so each lock is uncontended).
private final class CASState: Sendable {
    private final class Slot: Sendable {
        let record: Mutex<TokenRecord>
        init(_ record: TokenRecord) { self.record = Mutex(record) }
    }

    private let slots: [Slot]
    init(records: [TokenRecord]) { slots = records.map(Slot.init) }
    func record(_ task: Int) -> TokenRecord { slots[task].record.withLock { $0 } }
    func set(_ task: Int, _ record: TokenRecord) { slots[task].record.withLock { $0 = record } }
}
