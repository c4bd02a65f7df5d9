import ArgumentParser
import Foundation
import OAuthBroker
import OAuthBrokerCurl
import OAuthBrokerTools

/// `cached`: one warmed key; C tasks ask the broker for its access token in a loop for D seconds.
struct CachedScenario: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cached",
        abstract: "Cache hits: C tasks ask for one warmed key's access token in a loop for D seconds.")

    enum API: String, ExpressibleByArgument, CaseIterable {
        case key, handle, both
    }

    @OptionGroup var loop: LoopOptions
    @OptionGroup var storeOptions: StoreOptions
    @OptionGroup var idpOptions: IdentityProviderOptions

    @Option(help: "Which call to measure: key (broker.accessToken(for:)), handle (TokenHandle.accessToken()), or both.")
    var api: API = .both

    func run() async throws {
        let idp = try await IdentityProvider.start(idpOptions)
        do {
            let (storeURL, store) = try await openStore(storeOptions.store)
            let broker = try idp.makeBroker(store: store)
            let key = try broker.key(tenant: "bench", principal: "service", scopes: ["read"])
            _ = try await broker.accessToken(for: key)
            let before = idp.tokenRequests
            let duration = Duration.seconds(loop.seconds)

            if api != .handle {
                try await measure("accessToken(for:)", KeyCall(broker: broker, key: key))
            }
            if api != .key {
                try await measure("handle.accessToken()", HandleCall(handle: try broker.handle(for: key)))
            }
            func measure(_ name: String, _ call: some CachedCall) async throws {
                let result = try await Self.hammer(tasks: loop.tasks, duration: duration, call)
                var line = JSONLine(scenario: "cached")
                line.set("api", name)
                line.set("store", storeURL.kind.description)
                line.set("tasks", loop.tasks)
                result.write(to: &line)
                line.set("idp_requests", idp.tokenRequests(since: before))
                line.emit()
            }
        } catch {
            await idp.shutdown()
            throw error
        }
        await idp.shutdown()
    }

    /// Runs `tasks` tasks calling `call` for `duration`, in batches of 1,024 calls between clock checks and yields.
    /// Generic (not a closure) so that the loop calls the broker directly, as an application would.
    static func hammer(tasks: Int, duration: Duration, _ call: some CachedCall) async throws -> Throughput {
        let cpu = CPUTime.now()
        let start = ContinuousClock.now
        let deadline = start + duration
        let (total, _) = try await withThrowingTaskGroup(of: (Int, UInt64).self) { group in
            for _ in 0..<tasks {
                group.addTask {
                    var count = 0
                    var sink: UInt64 = 0
                    while ContinuousClock.now < deadline {
                        sink &+= try await call.batch(1024)
                        count += 1024
                        await Task.yield()
                    }
                    return (count, sink)
                }
            }
            return try await group.reduce((0, UInt64(0))) { ($0.0 + $1.0, $0.1 &+ $1.1) }
        }
        return Throughput(
            operations: total, elapsed: ContinuousClock.now - start, cpuSeconds: CPUTime.now() - cpu)
    }
}

/// One way of asking for the cached token.
protocol CachedCall: Sendable {
    nonisolated(nonsending) func batch(_ count: Int) async throws -> UInt64
}

private struct KeyCall: CachedCall {
    let broker: Broker<CurlTransport, CurlErrorMapper>
    let key: StoreKey
    nonisolated(nonsending) func batch(_ count: Int) async throws -> UInt64 {
        var sink: UInt64 = 0
        for _ in 0..<count { sink &+= try await broker.accessToken(for: key).version }
        return sink
    }
}

private struct HandleCall: CachedCall {
    let handle: TokenHandle
    nonisolated(nonsending) func batch(_ count: Int) async throws -> UInt64 {
        var sink: UInt64 = 0
        for _ in 0..<count { sink &+= try await handle.accessToken().version }
        return sink
    }
}
