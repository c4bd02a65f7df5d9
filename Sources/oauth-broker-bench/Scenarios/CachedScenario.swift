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
        try await IdentityProvider.with(idpOptions) { idp in
            let (storeURL, store) = try await openStore(storeOptions)
            let broker = try idp.makeBroker(store: store)
            let key = try broker.key(tenant: "bench", principal: "service", scopes: ["read"])
            _ = try await broker.accessToken(for: key)
            let before = idp.tokenRequests
            let duration = Duration.seconds(loop.seconds)

            if api != .handle {
                try await measure("accessToken(for:)", .key(broker, key))
            }
            if api != .key {
                try await measure("handle.accessToken()", .handle(try broker.handle(for: key)))
            }
            func measure(_ name: String, _ call: Call) async throws {
                let result = try await Self.hammer(tasks: loop.tasks, duration: duration, call)
                var line = JSONLine(scenario: "cached")
                line.set("api", name)
                line.set("store", storeURL.kind.description)
                line.set("tasks", loop.tasks)
                result.write(to: &line)
                line.set("idp_requests", idp.tokenRequests(since: before))
                line.emit()
            }
        }
    }

    /// One way of asking for the cached token.
    enum Call: Sendable {
        case key(Broker<CurlTransport, CurlErrorMapper>, StoreKey)
        case handle(TokenHandle)
    }

    /// Runs `tasks` tasks calling `call` for `duration`, in batches of 1,024 calls between clock checks. With more
    /// tasks than cores each task also yields after a batch, so that all of them take turns; with no more tasks
    /// than cores none yields (a yield would only move the task to another thread). The calls sit directly in each
    /// task's loop (no closure, no extra async function), as in an application.
    static func hammer(tasks: Int, duration: Duration, _ call: Call) async throws -> Throughput {
        let cpu = CPUTime.now()
        let start = ContinuousClock.now
        let deadline = start + duration
        let yields = tasks > ProcessInfo.processInfo.activeProcessorCount
        let (total, _) = try await withThrowingTaskGroup(of: (Int, UInt64).self) { group in
            for _ in 0..<tasks {
                group.addTask {
                    var count = 0
                    var sink: UInt64 = 0
                    while ContinuousClock.now < deadline {
                        switch call {
                        case .key(let broker, let key):
                            for _ in 0..<1024 { sink &+= try await broker.accessToken(for: key).version }
                        case .handle(let handle):
                            for _ in 0..<1024 { sink &+= try await handle.accessToken().version }
                        }
                        count += 1024
                        if yields { await Task.yield() }
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
