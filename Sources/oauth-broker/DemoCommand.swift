import ArgumentParser
import Foundation
import OAuthBroker
import OAuthBrokerCurl
import OAuthBrokerSQLite
import OAuthBrokerTesting
import OAuthBrokerTools

/// `oauth-broker demo`: the broker end to end against a local mock authorization server, in a few seconds.
struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Show the broker at work against a mock authorization server on 127.0.0.1 (offline, seconds).",
        discussion: """
            Starts a MockAuthorizationServer on a loopback port and an SQLite store in a temporary directory, then \
            shows client credentials for two tenants, an authorization code + PKCE round trip, a refresh with \
            rotation, 1000 concurrent callers sharing one token request, and what the store holds. Real HTTP \
            through libcurl; nothing leaves the machine; the directory is removed afterwards.
            """)

    @Option(help: "The number of concurrent callers in the single-flight step.")
    var callers = 1000

    func validate() throws {
        guard (1...100_000).contains(callers) else { throw ValidationError("--callers must be 1...100000") }
    }

    func run() async throws {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("oauth-broker-demo-\(getpid())-\(UInt32.random(in: .min ... .max))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: false)
        defer { try? FileManager.default.removeItem(at: directory) }
        let server = try await MockAuthorizationServer.start()
        do {
            try await Demo(server: server, directory: directory, callers: callers).run()
        } catch {
            try? await server.shutdown()
            throw error
        }
        try await server.shutdown()
    }
}

/// The demo's steps.
private struct Demo {
    let server: MockAuthorizationServer
    let directory: URL
    let callers: Int

    func run() async throws {
        let clientID = "demo-client"
        // The demo's own throwaway secret for its own local server; never printed.
        let secret = Secret(UUID().uuidString)
        let redirectURI = "http://127.0.0.1:\(server.port)/callback"
        server.registerClient(id: clientID, secret: secret, redirectURIs: [redirectURI])
        let provider = try ProviderDescriptor(
            id: ProviderID("demo"), tokenEndpoint: server.tokenEndpoint, clientID: clientID, clientSecret: secret,
            clientAuthentication: .clientSecretBasic, grants: [.clientCredentials, .authorizationCode, .refreshToken],
            authorizationEndpoint: server.authorizationEndpoint, revocationEndpoint: server.revocationEndpoint,
            allowsInsecureLoopback: true)
        let databasePath = directory.appendingPathComponent("tokens.sqlite").path
        let store = try await SQLiteStore(path: databasePath)
        let broker = try Broker(provider: provider, store: store)  // libcurl transport

        Output.line("oauth-broker demo")
        Output.line("  mock authorization server  \(server.baseURL.absoluteString)  (client \(clientID))")
        Output.line("  store                      sqlite:\(databasePath)")
        Output.line(
            "  transport                  libcurl (\(CurlTransport.libcurlVersion.split(separator: " ").first ?? ""))")
        Output.line("  tokens are never printed: \"<redacted>\" is what a Secret prints")

        // 1. Client credentials for two tenants.
        Output.line()
        Output.line("1. Client credentials for two tenants")
        for tenant in ["acme", "globex"] {
            let key = try broker.key(tenant: tenant, principal: "billing-service", scopes: ["invoices:read"])
            let before = server.statistics.requests(to: .token)
            let token = try await broker.accessToken(for: key)
            let requests = server.statistics.requests(to: .token) - before
            Output.line(
                "   \(tenant.padding(toLength: 7, withPad: " ", startingAt: 0)) \(token.tokenType) \(token.value)  "
                    + "version \(token.version), \(describe(expiry: token.expiresAt)), token requests: \(requests)")
        }
        let again = try broker.key(tenant: "acme", principal: "billing-service", scopes: ["invoices:read"])
        let before = server.statistics.requests(to: .token)
        _ = try await broker.accessToken(for: again)
        Output.line(
            "   acme again: served from the cache, token requests: \(server.statistics.requests(to: .token) - before)")

        // 2. Authorization code + PKCE.
        Output.line()
        Output.line("2. Authorization code + PKCE (S256)")
        let alice = try broker.key(tenant: "acme", principal: "alice", scopes: ["openid", "profile", "calendar"])
        let request = try await broker.startAuthorization(for: alice, redirectURI: redirectURI)
        let query = URLComponents(url: request.url, resolvingAgainstBaseURL: false)?.queryItems ?? []
        let names = query.map(\.name).joined(separator: ", ")
        Output.line(
            "   authorize: \(request.url.scheme ?? "")://\(request.url.host ?? ""):\(server.port)\(request.url.path)?…")
        Output.line("              with \(names)")
        Output.line(
            "   session stored in SQLite (state hashed, verifier kept secret) until \(RFC3339.string(from: request.expiresAt))"
        )
        // The demo plays the user's browser: the server approves and redirects to the callback.
        let callback = try await server.approve(authorizationURL: request.url)
        Output.line("   the user approves; the browser lands on \(redirectURI)?code=…&state=…")
        let authorized = try await broker.completeAuthorization(callbackURL: callback)
        let aliceRecord = try await broker.record(for: alice)
        Output.line(
            "   exchange: token for acme/alice [\(authorized.scopes)], version \(authorized.version), "
                + "refresh token \(aliceRecord?.refreshToken == nil ? "absent" : "stored")")
        do {
            _ = try await broker.completeAuthorization(callbackURL: callback)
            Output.line("   replaying the callback: accepted (unexpected)")
        } catch let error as BrokerError {
            Output.line("   replaying the callback: refused (\(error.code)), the state is single-use")
        }

        // 3. Refresh with rotation.
        Output.line()
        Output.line("3. Refresh with rotation")
        let oldRefreshToken = aliceRecord?.refreshToken
        let refreshed = try await broker.refresh(alice, force: true)
        let newRecord = try await broker.record(for: alice)
        Output.line(
            "   refresh --force: version \(authorized.version) → \(refreshed.version), new access token: \(refreshed.value != authorized.value)"
        )
        let rotated = newRecord?.refreshToken != nil && newRecord?.refreshToken != oldRefreshToken
        let oldStillValid = oldRefreshToken.map { server.isActive(refreshToken: $0) } ?? false
        Output.line(
            "   refresh token rotated: \(rotated); the old one is still accepted by the server: \(oldStillValid); "
                + "rotations seen by the server: \(server.statistics.refreshTokenRotations)")

        // 4. Single-flight.
        Output.line()
        Output.line("4. \(callers) concurrent callers on a key with nothing cached or stored")
        let coldBroker = try Broker(provider: provider, store: store)  // a second broker: a cold cache
        let initech = try coldBroker.key(tenant: "initech", principal: "reporting", scopes: ["invoices:read"])
        server.resetStatistics()
        let tokens = try await withThrowingTaskGroup(of: Secret.self) { group in
            for _ in 0..<callers {
                group.addTask { try await coldBroker.accessToken(for: initech).value }
            }
            var values = Set<Secret>()
            for try await value in group { values.insert(value) }
            return values
        }
        Output.line("   callers answered: \(callers), distinct tokens: \(tokens.count)")
        Output.line("   token requests at the server: \(server.statistics.requests(to: .token))")

        // 5. What the store holds.
        Output.line()
        Output.line("5. What the store holds (oauth-broker list --store sqlite:…)")
        let summaries = try await RecordSummary.all(in: store)
        for line in RecordSummary.table(summaries).split(separator: "\n") { Output.line("   \(line)") }
        Output.line()
        Output.line("Done. The temporary directory is removed; try 'oauth-broker --help' for the real thing.")
    }
}
