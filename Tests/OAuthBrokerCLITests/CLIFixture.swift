import Foundation
import OAuthBroker
import OAuthBrokerTesting
import OAuthBrokerTools
import Testing

/// A mock authorization server on 127.0.0.1, a temporary directory, and provider files pointing at the server.
///
/// The client secret is random per fixture and reaches the child processes only through `${env:…}`, so a test can
/// scan every output for it.
struct CLIFixture: Sendable {
    let server: MockAuthorizationServer
    let directory: String
    let clientID = "cli-client"
    let clientSecret: String
    /// The environment variable the provider files read the secret from.
    let secretVariable = "OAUTH_BROKER_CLI_TEST_SECRET"
    let redirectURI = "http://127.0.0.1:9/callback"

    /// Runs `body` with a fresh server and directory, shutting both down afterwards.
    static func with<T: Sendable>(
        configuration: MockAuthorizationServer.Configuration = MockAuthorizationServer.Configuration(),
        _ body: (CLIFixture) async throws -> T
    ) async throws -> T {
        try await withTemporaryDirectory(prefix: "oauth-broker-cli-test") { directory in
            try await MockAuthorizationServer.withRunningServer(configuration: configuration) { server in
                let fixture = CLIFixture(
                    server: server, directory: directory,
                    clientSecret: "cli-secret-\(UInt64.random(in: .min ... .max))")
                server.registerClient(id: fixture.clientID, secret: Secret(fixture.clientSecret))
                return try await body(fixture)
            }
        }
    }

    /// The environment every child gets: the secret variable.
    var environment: [String: String?] { [secretVariable: clientSecret] }

    /// `file:<directory>/tokens.json`.
    var fileStore: String { "file:\(directory)/tokens.json" }

    /// A store the test process reads to check what the children wrote.
    func openFileStore() throws -> FileStore { try FileStore(path: "\(directory)/tokens.json") }

    /// The standard provider fields for this server; `overrides` replace or add fields (`NSNull()` removes one).
    func providerFields(_ overrides: [String: Any] = [:]) -> [String: Any] {
        var fields: [String: Any] = [
            "id": "mock",
            "token_endpoint": server.tokenEndpoint.absoluteString,
            "authorization_endpoint": server.authorizationEndpoint.absoluteString,
            "revocation_endpoint": server.revocationEndpoint.absoluteString,
            "client_id": clientID,
            "client_secret": "${env:\(secretVariable)}",
            "client_auth": "client_secret_basic",
            "grants": ["client_credentials", "authorization_code", "refresh_token"],
            "redirect_uri": redirectURI,
            "allow_insecure_loopback": true,
        ]
        for (name, value) in overrides {
            if value is NSNull { fields[name] = nil } else { fields[name] = value }
        }
        return fields
    }

    /// Writes a provider file and returns its path.
    func writeProvider(_ overrides: [String: Any] = [:], name: String = "provider.json") throws -> String {
        let path = "\(directory)/\(name)"
        let data = try JSONSerialization.data(withJSONObject: providerFields(overrides), options: [.sortedKeys])
        try data.write(to: URL(fileURLWithPath: path))
        return path
    }

    /// Runs the CLI with this fixture's environment plus `environment`.
    func run(_ arguments: [String], environment extra: [String: String?] = [:], overlapping: Bool = false)
        async throws -> CLIResult
    {
        try await CLI.run(
            arguments, environment: environment.merging(extra) { $1 }, directory: directory, overlapping: overlapping)
    }

    /// `--provider P --store S --tenant T --principal P [--scope …]`.
    func keyArguments(
        provider: String, store: String? = nil, tenant: String = "acme", principal: String = "alice",
        scope: String? = nil
    ) -> [String] {
        ["--provider", provider, "--store", store ?? fileStore, "--tenant", tenant, "--principal", principal]
            + (scope.map { ["--scope", $0] } ?? [])
    }

    /// Every token the file store holds, plus the client secret: what no output may contain.
    func secrets() async throws -> [String] {
        var values = [clientSecret]
        let store = try openFileStore()
        for key in try await store.keys() {
            guard let record = try await store.record(for: key) else { continue }
            values.append(record.accessToken.revealedValue)
            if let refresh = record.refreshToken { values.append(refresh.revealedValue) }
        }
        return values
    }

    /// Opens the store at `url` (`file:…`, `sqlite:…`) in the test process, as the CLI opens it.
    func openStore(_ url: String) async throws -> any BrokerStore {
        try await StoreURL(url).makeStore()
    }

    /// Issues a grant at the mock server and stores it in the store at `url` for `tenant`/`principal` (no scopes),
    /// with an access token that expired an hour ago, as a grant the CLI finds and must refresh.
    ///
    /// - Returns: The key the CLI derives from `--tenant`/`--principal`, the grant, and the record as stored.
    func seedExpiredGrant(store url: String, tenant: String = "acme", principal: String = "alice") async throws
        -> (key: StoreKey, grant: MockAuthorizationServer.IssuedGrant, record: TokenRecord)
    {
        let key = try StoreKey(provider: "mock", tenant: tenant, principal: principal)
        let (grant, record) = try await server.seedExpiredGrant(clientID: clientID, in: try openStore(url), for: key)
        return (key, grant, record)
    }

    /// Runs `authorize`, approves at the mock server as a browser would, and returns the callback URL.
    func authorize(
        provider: String, store: String? = nil, principal: String = "alice", scope: String = "openid profile"
    )
        async throws -> URL
    {
        let result = try await run(
            ["authorize"] + keyArguments(provider: provider, store: store, principal: principal, scope: scope))
        try #require(result.status == 0, "authorize failed: \(result)")
        let url = try #require(URL(string: result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)))
        return try await server.approve(authorizationURL: url)
    }

    /// `authorize` then `exchange`: a stored authorization-code grant for `principal`.
    func authorizeAndExchange(provider: String, principal: String = "alice", scope: String = "openid profile")
        async throws -> StoreKey
    {
        let callback = try await authorize(provider: provider, principal: principal, scope: scope)
        let result = try await run(
            ["exchange", "--provider", provider, "--store", fileStore, "--callback", callback.absoluteString])
        try #require(result.status == 0, "exchange failed: \(result)")
        return try StoreKey(
            provider: "mock", tenant: "acme", principal: principal, scopes: scope.split(separator: " ").map(String.init)
        )
    }
}

extension JSONValue {
    /// The value as `JSONSerialization` takes it; `.null` becomes `NSNull()`, which removes a provider field.
    var foundationValue: Any {
        switch self {
        case .null: NSNull()
        case .bool(let value): value
        case .number(let value): value
        case .string(let value): value
        case .array(let values): values.map(\.foundationValue)
        case .object(let entries): entries.mapValues(\.foundationValue)
        }
    }
}

/// Polls `condition` every 10 ms, at most `attempts` times (about 10 s by default); whether it became true.
func eventually(attempts: Int = 1_000, _ condition: () async throws -> Bool) async rethrows -> Bool {
    for _ in 0..<attempts {
        if try await condition() { return true }
        try? await Task.sleep(for: .milliseconds(10))
    }
    return false
}
