import ArgumentParser
import Foundation
import OAuthBroker
import OAuthBrokerTools

/// Options shared by `keys` and `keys-warm`.
struct KeysOptions: ParsableArguments {
    @Option(help: "Distinct (tenant, scope) keys (1 to 1000000).")
    var keys: Int = 1000

    @Option(help: "Workers fetching keys in parallel (1 to 10000); also the transport's connection limit.")
    var concurrency: Int = 64

    /// `--transport`: the HTTP client under test.
    enum TransportName: String, ExpressibleByArgument, CaseIterable {
        case curl, ahc

        var choice: TransportChoice {
            switch self {
            case .curl: .curl
            case .ahc: .ahc
            }
        }
    }

    @Option(help: "The HTTP client: curl (libcurl) or ahc (AsyncHTTPClient).")
    var transport: TransportName = .curl

    func validate() throws {
        guard keys >= 1, keys <= 1_000_000 else { throw ValidationError("--keys must be in 1...1000000") }
        guard concurrency >= 1, concurrency <= 10_000 else {
            throw ValidationError("--concurrency must be in 1...10000")
        }
    }

    /// K keys with distinct tenants and scopes, unique to this run so a persistent store starts cold.
    func makeKeys<T, M>(for broker: Broker<T, M>) throws -> [StoreKey] {
        let run = UInt32.random(in: 0...UInt32.max)
        return try (0..<keys).map { index in
            try broker.key(tenant: "t\(run)-\(index)", principal: "service", scopes: ["scope.\(index % 7)"])
        }
    }
}

/// Fetches every key once through a pool of workers and returns the throughput, latencies and IdP requests.
private func fetchAll(
    _ keys: [StoreKey], concurrency: Int, broker: Broker<SelectedTransport, SelectedTransportErrorMapper>,
    idp: IdentityProvider
) async throws -> (Throughput, [Int64], Int?) {
    let before = idp.tokenRequests
    // Process CPU: the broker and its transport, plus the embedded mock server when there is one.
    let cpu = CPUTime.now()
    var (throughput, latencies) = try await Workers.pool(count: keys.count, concurrency: concurrency) { index in
        _ = try await broker.accessToken(for: keys[index])
    }
    throughput.cpuSeconds = CPUTime.now() - cpu
    return (throughput, latencies, idp.tokenRequests(since: before))
}

/// `keys`: K distinct cold keys, each fetched once (one client-credentials request each) through C workers.
struct KeysScenario: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys",
        abstract: "K cold keys fetched once each through C workers; expects K IdP requests.",
        discussion: "With --idp-latency-ms L a baseline line gives the bound C / L keys per second.")

    @OptionGroup var keyOptions: KeysOptions
    @OptionGroup var storeOptions: StoreOptions
    @OptionGroup var idpOptions: IdentityProviderOptions

    func run() async throws {
        let ok = try await IdentityProvider.with(idpOptions) { idp in
            let (storeURL, store) = try await openStore(storeOptions)
            let broker = try idp.makeBroker(
                store: store, connections: keyOptions.concurrency, transport: keyOptions.transport.choice)
            let keys = try keyOptions.makeKeys(for: broker)
            let (throughput, latencies, requests) = try await fetchAll(
                keys, concurrency: keyOptions.concurrency, broker: broker, idp: idp)
            let ok = (requests ?? keys.count) == keys.count
            var bound: Double?
            if idpOptions.idpLatencyMs > 0 {
                let perSecond = Double(keyOptions.concurrency) * 1000 / Double(idpOptions.idpLatencyMs)
                bound = perSecond
                var line = JSONLine(scenario: "keys")
                line.set("baseline", true)
                line.set("name", "concurrency / idp latency bound")
                line.set("tasks", keyOptions.concurrency)
                line.set("idp_latency_ms", idpOptions.idpLatencyMs)
                line.set("ops_per_sec", perSecond, digits: 1)
                line.emit()
            }
            var line = JSONLine(scenario: "keys")
            line.set("store", storeURL.kind.description)
            line.set("transport", keyOptions.transport.rawValue)
            line.set("tasks", keyOptions.concurrency)
            line.set("keys", keys.count)
            line.set("idp_latency_ms", idpOptions.idpLatencyMs)
            throughput.write(to: &line)
            Percentiles(nanoseconds: latencies).write(to: &line)
            line.set("idp_requests", requests)
            line.set("connections_opened", broker.transport.connectionsOpened)
            if let bound { line.set("ratio", throughput.perSecond / bound, digits: 3) }
            line.set("ok", ok)
            line.emit()
            return ok
        }
        if !ok { throw ExitCode.failure }
    }
}

/// `keys-warm`: the same K keys again, all cached (after an unreported cold pass): C workers each walk their
/// share of the keys, `--rounds` times.
struct KeysWarmScenario: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys-warm",
        abstract: "K cached keys read through C workers, R rounds; expects 0 IdP requests.")

    @OptionGroup var keyOptions: KeysOptions
    @OptionGroup var storeOptions: StoreOptions
    @OptionGroup var idpOptions: IdentityProviderOptions

    @Option(help: "How many times each key is read (1 to 100000).")
    var rounds: Int = 1000

    func validate() throws {
        guard rounds >= 1, rounds <= 100_000 else { throw ValidationError("--rounds must be in 1...100000") }
    }

    func run() async throws {
        let ok = try await IdentityProvider.with(idpOptions) { idp in
            let (storeURL, store) = try await openStore(storeOptions)
            let broker = try idp.makeBroker(
                store: store, connections: keyOptions.concurrency, transport: keyOptions.transport.choice)
            let keys = try keyOptions.makeKeys(for: broker)
            _ = try await fetchAll(keys, concurrency: keyOptions.concurrency, broker: broker, idp: idp)
            let before = idp.tokenRequests
            let workers = min(keyOptions.concurrency, keys.count)
            let rounds = self.rounds
            let cpu = CPUTime.now()
            let start = ContinuousClock.now
            let total = try await withThrowingTaskGroup(of: Int.self) { group in
                for worker in 0..<workers {
                    group.addTask {
                        var count = 0
                        for _ in 0..<rounds {
                            for index in stride(from: worker, to: keys.count, by: workers) {
                                _ = try await broker.accessToken(for: keys[index])
                                count += 1
                            }
                            await Task.yield()
                        }
                        return count
                    }
                }
                return try await group.reduce(0, +)
            }
            let throughput = Throughput(
                operations: total, elapsed: ContinuousClock.now - start, cpuSeconds: CPUTime.now() - cpu)
            let requests = idp.tokenRequests(since: before)
            let ok = (requests ?? 0) == 0 && total == keys.count * rounds
            var line = JSONLine(scenario: "keys-warm")
            line.set("store", storeURL.kind.description)
            line.set("transport", keyOptions.transport.rawValue)
            line.set("tasks", workers)
            line.set("keys", keys.count)
            line.set("rounds", rounds)
            throughput.write(to: &line)
            line.set("idp_requests", requests)
            line.set("ok", ok)
            line.emit()
            return ok
        }
        if !ok { throw ExitCode.failure }
    }
}
