import ArgumentParser
import Foundation
import OAuthBroker
import OAuthBrokerTools

/// `herd`: a cold key; N tasks released at once ask for its token. Exactly one token request must reach the
/// provider.
struct HerdScenario: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "herd",
        abstract: "Thundering herd: N tasks released by a barrier ask for one cold key; expects 1 IdP request.")

    @Option(help: "Concurrent callers (1 to 100000).")
    var callers: Int = 1000

    @OptionGroup var storeOptions: StoreOptions
    @OptionGroup var idpOptions: IdentityProviderOptions

    func validate() throws {
        guard callers >= 1, callers <= 100_000 else { throw ValidationError("--callers must be in 1...100000") }
    }

    func run() async throws {
        let ok = try await IdentityProvider.with(idpOptions) { idp in
            let (storeURL, store) = try await openStore(storeOptions)
            let broker = try idp.makeBroker(store: store)
            let key = try broker.key(tenant: "herd-\(UInt32.random(in: 0...UInt32.max))", principal: "service")
            let barrier = Barrier(parties: callers)
            let before = idp.tokenRequests
            let callers = self.callers
            let (ends, versions) = try await withThrowingTaskGroup(
                of: (ContinuousClock.Instant, UInt64).self
            ) { group in
                for _ in 0..<callers {
                    group.addTask {
                        await barrier.arriveAndWait()
                        let token = try await broker.accessToken(for: key)
                        return (ContinuousClock.now, token.version)
                    }
                }
                var ends: [ContinuousClock.Instant] = []
                var versions = Set<UInt64>()
                for try await (end, version) in group {
                    ends.append(end)
                    versions.insert(version)
                }
                return (ends, versions)
            }
            guard let released = barrier.releasedAt, let last = ends.max() else {
                throw BenchError("the barrier never released")
            }
            let requests = idp.tokenRequests(since: before)
            let ok = (requests ?? 1) == 1 && versions.count == 1
            var line = JSONLine(scenario: "herd")
            line.set("store", storeURL.kind.description)
            line.set("tasks", callers)
            Throughput(operations: callers, elapsed: last - released).write(to: &line)
            Percentiles(nanoseconds: ends.map { ($0 - released).nanoseconds }).write(to: &line)
            line.set("idp_requests", requests)
            line.set("distinct_tokens", versions.count)
            line.set("ok", ok)
            line.emit()
            return ok
        }
        if !ok { throw ExitCode.failure }
    }
}
