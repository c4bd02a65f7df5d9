import CSQLite
import Foundation
import OAuthBroker
import OAuthBrokerTesting
import Testing

/// `oauth-broker refresh --force` against a SQLite store whose write lock another connection (this test process)
/// holds with `BEGIN EXCLUSIVE` while the provider rotates the refresh token: the token in hand must be stored
/// once the lock is gone if that is within `--store-write-timeout`, and the command must give up when it is not.
@Suite("oauth-broker --store-write-timeout bounds the write of a token in hand", .timeLimit(.minutes(3)))
struct StoreWriteTimeoutCLITests {
    /// One run of ``refresh(in:storeWriteTimeout:holdingTheLockFor:)``.
    private struct Run {
        let result: CLIResult
        let key: StoreKey
        let grant: MockAuthorizationServer.IssuedGrant
        /// The test process's own connection to the store.
        let store: any BrokerStore
    }

    /// Runs `refresh --force --store-write-timeout <budget>` with the provider answering 1 s after the request
    /// arrives, takes the database's write lock as soon as the request is at the provider (the refresh then holds
    /// the lease and has nothing more to write before the answer), and releases it `hold` after taking it.
    ///
    /// - Returns: The command's result, and what the test needs to check the store and the provider.
    private func refresh(
        in fixture: CLIFixture, storeWriteTimeout budget: String, holdingTheLockFor hold: Duration
    ) async throws -> Run {
        let path = "\(fixture.directory)/tokens.sqlite"
        let url = "sqlite:\(path)"
        let provider = try fixture.writeProvider()
        let (key, grant, seeded) = try await fixture.seedExpiredGrant(store: url)
        // Opened (and read) before the lock is taken, so reading it under the lock opens nothing.
        let store = try await fixture.openStore(url)
        #expect(try await store.record(for: key) == seeded)
        fixture.server.enqueue(.slowResponse(delay: .seconds(1)))

        async let running = fixture.run(
            ["refresh", "--force"] + fixture.keyArguments(provider: provider, store: url)
                + ["--store-write-timeout", budget], overlapping: true)
        #expect(await eventually { fixture.server.statistics.requests(grant: .refreshToken) == 1 })
        let lock = try SQLiteWriteLock(path: path)
        let releaseAt = ContinuousClock.now + hold
        #expect(await eventually { fixture.server.statistics.refreshGrantsSucceeded == 1 })
        // How long the lock is held is the point of the test: nothing to wait for but time.
        try await Task.sleep(until: releaseAt)
        // Still the seeded record: the provider answered long ago, so the write has met the lock.
        #expect(try await store.record(for: key) == seeded, "the new token was stored under another's lock")
        try lock.release()
        return Run(result: try await running, key: key, grant: grant, store: store)
    }

    @Test("the lock is held for 7 s: with --store-write-timeout 10 the rotated token is stored, exit 0")
    func lockReleasedWithinBudget() async throws {
        try await CLIFixture.with { fixture in
            // 7 s outlasts the CLI's SQLite busy timeout (5 s), so the first write fails busy and the broker's
            // retry within the budget stores the token, not SQLite's own wait.
            let run = try await refresh(in: fixture, storeWriteTimeout: "10", holdingTheLockFor: .seconds(7))
            let (result, grant) = (run.result, run.grant)
            #expect(result.status == 0, "\(result)")
            #expect(result.stdout.hasPrefix("refreshed acme/alice"), "\(result)")
            let stored = try #require(try await run.store.record(for: run.key))
            let rotated = try #require(stored.refreshToken)
            #expect(rotated != grant.refreshToken)
            #expect(rotated == fixture.server.activeRefreshToken(inFamilyOf: grant.refreshToken))
            #expect(fixture.server.isActive(refreshToken: rotated))
            #expect(fixture.server.isActive(accessToken: stored.accessToken))
            #expect(fixture.server.statistics.familiesRevokedByReuseDetection == 0)
            expectNoSecrets(
                result,
                [
                    fixture.clientSecret, grant.accessToken.revealedValue, grant.refreshToken.revealedValue,
                    stored.accessToken.revealedValue, rotated.revealedValue,
                ])
        }
    }

    @Test("the lock is held for 5 s: with --store-write-timeout 1 the command gives up, exit 4, one line on stderr")
    func lockOutlastsBudget() async throws {
        try await CLIFixture.with { fixture in
            // The write starts about 1 s after the lock is taken and would succeed when it is released; a command
            // that still exits 0 waited past its 1 s budget.
            let run = try await refresh(in: fixture, storeWriteTimeout: "1", holdingTheLockFor: .seconds(5))
            let (result, grant) = (run.result, run.grant)
            #expect(result.status == 4, "\(result)")
            #expect(result.stdout.isEmpty, "\(result)")
            #expect(result.stderr == result.errorLine + "\n", "\(result)")
            #expect(result.errorLine.hasPrefix("oauth-broker: error: store_unavailable: "), "\(result)")
            #expect(result.errorLine.contains("storeWriteTimeout"), "\(result)")
            var secrets = [fixture.clientSecret, grant.accessToken.revealedValue, grant.refreshToken.revealedValue]
            if let rotated = fixture.server.activeRefreshToken(inFamilyOf: grant.refreshToken) {
                secrets.append(rotated.revealedValue)
            }
            if let stored = try await run.store.record(for: run.key) {
                secrets.append(stored.accessToken.revealedValue)
            }
            expectNoSecrets(result, secrets)
        }
    }
}

/// A second connection to a SQLite database holding its write lock (`BEGIN EXCLUSIVE`) until ``release()``.
/// In WAL mode other connections still read; their writes wait for the lock, up to their busy timeout.
private final class SQLiteWriteLock {
    private let handle: OpaquePointer

    init(path: String) throws {
        var opened: OpaquePointer?
        guard sqlite3_open(path, &opened) == SQLITE_OK, let opened else {
            throw BrokerError(.storeFailed, "cannot open \(path)")
        }
        handle = opened
        sqlite3_busy_timeout(handle, 5000)
        guard sqlite3_exec(handle, "BEGIN EXCLUSIVE", nil, nil, nil) == SQLITE_OK else {
            throw BrokerError(.storeFailed, "BEGIN EXCLUSIVE failed")
        }
    }

    deinit { sqlite3_close_v2(handle) }

    /// Commits the empty transaction, releasing the lock.
    func release() throws {
        guard sqlite3_exec(handle, "COMMIT", nil, nil, nil) == SQLITE_OK else {
            throw BrokerError(.storeFailed, "COMMIT failed")
        }
    }
}
