import Foundation
package import OAuthBroker

/// Several OS processes (`oauth-broker-test-helper token`) share one store and ask at once for a token that has
/// expired, against a ``MockAuthorizationServer`` that rotates refresh tokens and revokes the whole family when a
/// rotated one is presented again. The multi-process refresh tests of every shared store run it and assert on the
/// ``Outcome``: exactly one refresh, no family revoked, every process printing the same, stored, token.
package enum RefreshHerd {
    /// What happened.
    package struct Outcome: Sendable {
        /// How many processes printed `ready`.
        package var readyCount = 0
        /// The token each process printed, in process order (a process that printed none is missing).
        package var tokens: [String] = []
        /// Each process's exit status and standard error, in process order.
        package var exits: [(status: Int32, standardError: String)] = []
        /// Refresh-token requests the provider received.
        package var refreshRequests = 0
        /// Token families the provider revoked because a rotated refresh token came back.
        package var familiesRevokedByReuse = 0
        /// The record stored at the end.
        package var stored: TokenRecord?
        /// Whether the provider still accepts the stored access and refresh tokens.
        package var storedTokensActive = false
        /// The refresh token of the seeded (expired) grant.
        package var seededRefreshToken: Secret?

        /// What went wrong, if anything: every way the run differs from exactly one refresh, no family revoked,
        /// and `processCount` processes exiting 0 after printing the stored (rotated, active) token.
        package func problems(processCount: Int) -> [String] {
            var problems: [String] = []
            if readyCount != processCount {
                problems.append("\(processCount - readyCount) children never became ready")
            }
            for exit in exits where exit.status != 0 {
                problems.append("a child exited \(exit.status): \(exit.standardError)")
            }
            if tokens.count != processCount { problems.append("\(tokens.count) of \(processCount) printed a token") }
            if Set(tokens).count > 1 { problems.append("processes ended with \(Set(tokens).count) different tokens") }
            if refreshRequests != 1 { problems.append("\(refreshRequests) refresh requests reached the provider") }
            if familiesRevokedByReuse != 0 { problems.append("the provider revoked a family on reuse") }
            if tokens.first != stored?.accessToken.revealedValue { problems.append("the printed token is not stored") }
            if !storedTokensActive { problems.append("the stored tokens are not active at the provider") }
            if stored?.refreshToken == seededRefreshToken { problems.append("the refresh token was not rotated") }
            return problems
        }
    }

    /// Runs `processCount` helpers against one expired record in `store`, which `storeURL` also names.
    /// - Parameters:
    ///   - storeURL: The store URL the child processes open.
    ///   - store: The same store, opened by the test (seeded and read back through it).
    ///   - directory: A scratch directory (for the start signal file).
    ///   - processCount: How many processes.
    ///   - leaseTTL: The helpers' refresh-lease time-to-live, or their default.
    ///   - slowFirstResponse: When set, the mock rotates the token on the first refresh at once and sends the
    ///     response body only after this delay.
    package static func run(
        storeURL: String, store: any BrokerStore, directory: String, processCount: Int = 8,
        leaseTTL: Duration? = nil, slowFirstResponse: Duration? = nil
    ) async throws -> Outcome {
        let clientID = "mp-client"
        let clientSecret = "mp-secret"
        var configuration = MockAuthorizationServer.Configuration()
        configuration.rotatesRefreshTokens = true
        configuration.revokesFamilyOnReuse = true
        configuration.latency = .milliseconds(50)
        return try await MockAuthorizationServer.withRunningServer(configuration: configuration) { server in
            server.registerClient(id: clientID, secret: Secret(clientSecret))
            let key = try StoreKey(provider: "test-helper", tenant: "herd", principal: "user")
            var outcome = Outcome()
            outcome.seededRefreshToken = try await server.seedExpiredGrant(clientID: clientID, in: store, for: key)
                .grant.refreshToken
            if let slowFirstResponse { server.enqueue(.slowBody(delay: slowFirstResponse)) }
            let goFile = directory + "/go"
            let helper = try TestExecutable.path("oauth-broker-test-helper")
            var arguments = [
                "token", "--store", storeURL, "--token-endpoint", server.tokenEndpoint.absoluteString,
                "--client-id", clientID, "--client-secret", clientSecret, "--tenant", "herd", "--go-file", goFile,
            ]
            if let leaseTTL {
                arguments += ["--lease-ttl-ms", String(Int64(leaseTTL.timeInterval * 1000))]
            }
            let children = try (0..<processCount).map { _ in
                try ChildProcess(executable: helper, arguments: arguments)
            }
            // Wait until every process is ready, then release them at once.
            for child in children {
                for await line in child.lines where line == "ready" {
                    outcome.readyCount += 1
                    break
                }
            }
            _ = FileManager.default.createFile(atPath: goFile, contents: Data())
            for child in children {
                for await line in child.lines where line.hasPrefix("token ") {
                    outcome.tokens.append(String(line.dropFirst(6)))
                    break
                }
                outcome.exits.append((await child.exitStatus(), child.standardError))
            }
            let statistics = server.statistics
            outcome.refreshRequests = statistics.requests(grant: .refreshToken)
            outcome.familiesRevokedByReuse = statistics.familiesRevokedByReuseDetection
            outcome.stored = try await store.record(for: key)
            if let stored = outcome.stored, let refreshToken = stored.refreshToken {
                outcome.storedTokensActive =
                    server.isActive(accessToken: stored.accessToken) && server.isActive(refreshToken: refreshToken)
            }
            return outcome
        }
    }
}
