import CSQLite
import Foundation
import OAuthBroker
import OAuthBrokerCurl
import OAuthBrokerSQLite
import OAuthBrokerTesting
import Testing

/// A refresh whose store write meets a real fault: another connection holds the SQLite database with
/// `BEGIN EXCLUSIVE` past the store's busy timeout, while the provider (the mock, through libcurl) has already
/// rotated the refresh token and revokes the whole family if the old one is ever presented again.
@Suite("SQLite rotation under a held lock", .timeLimit(.minutes(2)))
struct SQLiteRotationFaultTests {
    @Test("a rotated token whose write meets another connection's exclusive lock is stored once the lock is gone")
    func exclusiveLockDuringWrite() async throws {
        try await withTemporaryDirectory(prefix: "sqlite-lock") { directory in
            var configuration = MockAuthorizationServer.Configuration()
            configuration.rotatesRefreshTokens = true
            configuration.revokesFamilyOnReuse = true
            try await MockAuthorizationServer.withRunningServer(configuration: configuration) { server in
                server.registerClient(id: "lock-client", secret: Secret("lock-secret"))
                let path = directory + "/store.sqlite"
                let store = try await SQLiteStore(configuration: .init(path: path, busyTimeout: .milliseconds(200)))
                let key = try StoreKey(provider: "mock", tenant: "t", principal: "u")
                let grant = try await server.seedExpiredGrant(clientID: "lock-client", in: store, for: key).grant
                let provider = try server.providerDescriptor(
                    id: ProviderID("mock"), clientID: "lock-client", clientSecret: Secret("lock-secret"),
                    grants: [.refreshToken])
                var brokerConfiguration = BrokerConfiguration()
                brokerConfiguration.storeWriteTimeout = .seconds(20)
                let broker = try Broker(provider: provider, store: store, configuration: brokerConfiguration)
                defer { broker.transport.shutdown() }

                // The provider processes the refresh at once (rotating the token) and sends the body 1.5 s later.
                server.enqueue(.slowBody(delay: .milliseconds(1500)))
                async let token = broker.accessToken(for: key)
                var processed = false
                for _ in 0..<500 where !processed {
                    processed = server.statistics.refreshGrantsSucceeded == 1
                    if !processed { try await Task.sleep(for: .milliseconds(10)) }
                }
                #expect(processed)
                // While the answer is on its way, another connection takes the write lock and keeps it for 3 s:
                // fifteen busy timeouts of the store.
                let raw = try RawDatabase(path)
                #expect(raw.execute("BEGIN EXCLUSIVE") == SQLITE_OK)
                try await Task.sleep(for: .seconds(3))
                #expect(raw.execute("COMMIT") == SQLITE_OK)

                let value = try await token.value
                let stored = try #require(try await store.record(for: key))
                #expect(stored.accessToken == value)
                let rotated = try #require(stored.refreshToken)
                #expect(rotated != grant.refreshToken)
                #expect(server.isActive(refreshToken: rotated))
                // The next refresh uses the rotated token: the family stays alive.
                _ = try await broker.refresh(key, force: true)
                #expect(server.statistics.requests(grant: .refreshToken) == 2)
                #expect(server.statistics.familiesRevokedByReuseDetection == 0)
            }
        }
    }
}
