// Many tenants, one SQLite store: every tenant gets its own token under its own key, and every broker (or process)
// that opens the same database shares them.
//
//   swift run --package-path Examples ManyTenants
import Foundation
import OAuthBroker
import OAuthBrokerCurl
import OAuthBrokerSQLite
import OAuthBrokerTesting

@main
struct ManyTenants {
    static func main() async throws {
        let server = try await MockAuthorizationServer.start()
        do {
            try await run(server)
        } catch {
            try? await server.shutdown()
            throw error
        }
        try await server.shutdown()
    }

    static func run(_ server: MockAuthorizationServer) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("many-tenants-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let databasePath = directory.appendingPathComponent("tokens.sqlite").path

        let clientSecret = Secret("example-secret")
        server.registerClient(id: "sync-service", secret: clientSecret)
        let provider = try ProviderDescriptor(
            id: ProviderID("crm"), tokenEndpoint: server.tokenEndpoint, clientID: "sync-service",
            clientSecret: clientSecret, grants: [.clientCredentials], allowsInsecureLoopback: true)
        let tenants = (1...50).map { "tenant-\($0)" }

        // Instance A fetches a token for every tenant, concurrently.
        let instanceA = try Broker(provider: provider, store: try await SQLiteStore(path: databasePath))
        try await withThrowingTaskGroup(of: Void.self) { group in
            for tenant in tenants {
                let key = try instanceA.key(tenant: tenant, principal: "sync", scopes: ["contacts:read"])
                group.addTask { _ = try await instanceA.accessToken(for: key) }
            }
            try await group.waitForAll()
        }
        print("instance A: \(tenants.count) tenants, token requests:", server.statistics.requests(to: .token))

        // Instance B (another process in production) opens the same database: the tokens are already there.
        let storeB = try await SQLiteStore(path: databasePath)
        let instanceB = try Broker(provider: provider, store: storeB)
        for tenant in tenants {
            _ = try await instanceB.accessToken(
                for: try instanceB.key(tenant: tenant, principal: "sync", scopes: ["contacts:read"]))
        }
        print("instance B: served from the store, token requests still:", server.statistics.requests(to: .token))

        // Keys are per tenant: list one tenant's records (as `oauth-broker list --tenant` does).
        let keys = try await storeB.keys(tenant: TenantID("tenant-7"))
        print("tenant-7 holds \(keys.count) record(s):", keys.map(\.description))
        print("records in the store:", try await storeB.keys().count)
    }
}
