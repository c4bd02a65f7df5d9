import ArgumentParser
import Foundation
import OAuthBroker
import OAuthBrokerTools

/// `multiprocess-herd`: P OS processes share one store holding an expired token with a refresh token, and all ask
/// for it at once. The store's refresh lease must let exactly one refresh reach the provider.
struct MultiprocessHerdScenario: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "multiprocess-herd",
        abstract: "P processes on one shared store ask at once for an expired key; expects 1 refresh request.",
        discussion: "Each process is this binary's hidden multiprocess-child subcommand.")

    @Option(help: "Processes (2 to 64).")
    var processes: Int = 8

    @OptionGroup var storeOptions: StoreOptions
    @OptionGroup var idpOptions: IdentityProviderOptions

    @Option(help: "With --token-endpoint: a refresh token to seed (the embedded server issues its own).")
    var refreshToken: String?

    func validate() throws {
        guard processes >= 2, processes <= 64 else { throw ValidationError("--processes must be in 2...64") }
        guard !storeOptions.store.hasPrefix("memory") else {
            throw ValidationError("a memory: store is not shared between processes; use file:, sqlite: or redis://")
        }
        guard !storeOptions.sealed else {
            throw ValidationError("--sealed uses a random key per process, which the child processes cannot share")
        }
        if idpOptions.tokenEndpoint != nil, refreshToken == nil {
            throw ValidationError("--token-endpoint needs --refresh-token for this scenario")
        }
    }

    func run() async throws {
        let ok = try await IdentityProvider.with(idpOptions) { idp in try await herd(idp) }
        if !ok { throw ExitCode.failure }
    }

    private func herd(_ idp: IdentityProvider) async throws -> Bool {
        let (url, store) = try await openStore(storeOptions)
        let tenant = "mp-\(UInt32.random(in: 0...UInt32.max))"
        let key = try StoreKey(provider: "bench", tenant: tenant, principal: "user", scopes: ["read"])
        let seededRefreshToken: Secret
        if let server = idp.server {
            seededRefreshToken = try server.issueGrant(clientID: idp.clientID, scopes: key.scopes).refreshToken
        } else {
            seededRefreshToken = Secret(refreshToken ?? "")
        }
        let now = Date()
        _ = try await seed(
            store, key: key,
            record: TokenRecord(
                accessToken: Secret("expired-access-token"), refreshToken: seededRefreshToken, scopes: key.scopes,
                issuedAt: now.addingTimeInterval(-7200), expiresAt: now.addingTimeInterval(-3600),
                version: TokenRecord.initialVersion(at: now)))
        let before = idp.refreshRequests
        let reuseBefore = idp.server?.statistics.familiesRevokedByReuseDetection

        let executable = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
        var children: [ChildProcess] = []
        defer { for child in children { child.terminateIfRunning() } }
        for _ in 0..<processes {
            children.append(
                try ChildProcess(
                    executable: executable,
                    arguments: [
                        "multiprocess-child", "--store", storeOptions.store, "--token-endpoint",
                        idp.tokenEndpoint.absoluteString, "--client-id", idp.clientID, "--client-auth",
                        idpOptions.clientAuth.rawValue, "--tenant", tenant,
                    ],
                    environment: ["OAUTH_BROKER_BENCH_CLIENT_SECRET": idp.clientSecret.revealedValue]))
        }
        let readyChildren = children
        let ready = try await onDedicatedThread(name: "mp-ready") {
            readyChildren.map { $0.readLine(timeout: .seconds(60)) }
        }
        guard ready.allSatisfy({ $0 == "ready" }) else {
            throw BenchError("not every child process became ready: \(ready.map { $0 ?? "<nothing>" })")
        }
        let go = ContinuousClock.now
        for child in children { child.send("go\n") }
        let goChildren = children
        let results = try await onDedicatedThread(name: "mp-results") {
            goChildren.map { child -> ChildResult in
                let line = child.readLine(timeout: .seconds(120))
                child.waitForExit(timeout: .seconds(30))
                return ChildResult(line: line)
            }
        }
        let wall = ContinuousClock.now - go
        let requests = idp.refreshRequests.flatMap { now in before.map { now - $0 } }
        let reuse = idp.server.flatMap { server in
            reuseBefore.map { server.statistics.familiesRevokedByReuseDetection - $0 }
        }
        let versions = Set(results.compactMap(\.version))
        let ok =
            results.allSatisfy(\.ok) && versions.count == 1 && (requests ?? 1) == 1 && (reuse ?? 0) == 0
        var line = JSONLine(scenario: "multiprocess-herd")
        line.set("store", url.kind.description)
        line.set("processes", processes)
        line.set("tasks", processes)
        line.set("ops", processes)
        line.set("seconds", wall.seconds, digits: 4)
        Percentiles(nanoseconds: results.compactMap(\.nanoseconds)).write(to: &line)
        line.set("idp_requests", requests)
        line.set("reuse_detected", reuse)
        line.set("failed_processes", results.filter { !$0.ok }.count)
        line.set("distinct_tokens", versions.count)
        line.set("ok", ok)
        line.emit()
        if let failure = results.first(where: { !$0.ok }) {
            FileHandle.standardError.write(Data("a child failed: \(failure.line ?? "<no output>")\n".utf8))
        }
        _ = try? await store.deleteRecord(for: key)
        return ok
    }
}

/// What one child process printed.
private struct ChildResult {
    let line: String?
    let ok: Bool
    let version: UInt64?
    let nanoseconds: Int64?

    init(line: String?) {
        self.line = line
        let object = line.flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        ok = object?["ok"] as? Bool ?? false
        version = (object?["version"] as? NSNumber)?.uint64Value
        nanoseconds = (object?["ns"] as? NSNumber)?.int64Value
    }
}

/// The hidden child of `multiprocess-herd`: builds a broker on the shared store, says `ready`, waits for `go` on
/// standard input, asks for the key's token once and prints the outcome as one JSON line.
struct MultiprocessChild: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "multiprocess-child", abstract: "Internal: one process of multiprocess-herd.",
        shouldDisplay: false)

    @OptionGroup var storeOptions: StoreOptions

    @Option var tokenEndpoint: String
    @Option var clientID: String
    @Option var clientAuth: ClientAuthChoice = .basic
    @Option var tenant: String

    func run() async throws {
        guard let secret = ProcessInfo.processInfo.environment["OAUTH_BROKER_BENCH_CLIENT_SECRET"] else {
            throw BenchError("OAUTH_BROKER_BENCH_CLIENT_SECRET is not set")
        }
        var options = IdentityProviderOptions()
        options.tokenEndpoint = tokenEndpoint
        options.clientID = clientID
        options.clientSecret = secret
        options.clientAuth = clientAuth
        let idp = try await IdentityProvider.start(options)
        let (_, store) = try await openStore(storeOptions)
        let broker = try idp.makeBroker(store: store)
        let key = try StoreKey(provider: "bench", tenant: tenant, principal: "user", scopes: ["read"])
        print("ready")
        fflush(nil)
        let signal = try await onDedicatedThread(name: "mp-go") { readLine() }
        guard signal == "go" else { throw BenchError("expected go on standard input") }
        let start = ContinuousClock.now
        var line = JSONLine(scenario: "multiprocess-child")
        do {
            let token = try await broker.accessToken(for: key)
            line.set("ok", true)
            line.set("version", Int(truncatingIfNeeded: token.version))
        } catch {
            line.set("ok", false)
            line.set("error", (error as? BrokerError)?.code.description ?? "\(type(of: error))")
        }
        line.set("ns", Int((ContinuousClock.now - start).nanoseconds))
        line.emit()
    }
}
