import ArgumentParser
import Foundation
import OAuthBroker
import OAuthBrokerTesting

/// Runs a `MockAuthorizationServer` until SIGINT or SIGTERM.
///
/// Prints `listening on http://127.0.0.1:<port>` once the socket is bound (and flushes stdout), so a parent
/// process can read the port when it asked for port 0.
struct MockAuthorizationServerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mock-authorization-server",
        abstract: "An OAuth 2.0 authorization server for tests, on 127.0.0.1.",
        discussion: """
            Endpoints: POST /token, GET /authorize, POST /revoke, POST /introspect (and the same under \
            /tenants/<tenant>/ for clients registered with a tenant). Stops on SIGINT or SIGTERM.
            """)

    @Option(help: "The TCP port on 127.0.0.1; 0 picks a free port.")
    var port: Int = 0

    @Option(
        name: .customLong("client"),
        help: ArgumentHelp(
            "A client to register, as ID:SECRET (split at the first colon), ID (a public client), or TENANT/ID:SECRET.",
            valueName: "client"))
    var clients: [String] = []

    @Option(help: "Access-token lifetime in seconds (expires_in).")
    var tokenLifetime: Int = 3600

    @Option(help: "Refresh-token lifetime in seconds; by default refresh tokens never expire.")
    var refreshTokenLifetime: Int?

    @Flag(inversion: .prefixedNo, help: "Rotate refresh tokens on every refresh.")
    var rotateRefreshTokens = true

    @Flag(inversion: .prefixedNo, help: "Revoke the whole grant family when a rotated refresh token is reused.")
    var reuseDetection = true

    @Flag(help: "Also issue refresh tokens for client_credentials.")
    var clientCredentialsRefreshTokens = false

    @Flag(help: "Deny every authorization request (access_denied).")
    var deny = false

    @Option(help: "Latency added to every request, in milliseconds.")
    var latencyMilliseconds: Int = 0

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be 0...65535") }
        guard tokenLifetime > 0 else { throw ValidationError("--token-lifetime must be positive") }
        if let refreshTokenLifetime, refreshTokenLifetime <= 0 {
            throw ValidationError("--refresh-token-lifetime must be positive")
        }
        guard latencyMilliseconds >= 0 else { throw ValidationError("--latency-milliseconds must not be negative") }
        for client in clients { _ = try Self.parseClient(client) }
    }

    /// Splits `TENANT/ID:SECRET`, `ID:SECRET` or `ID`.
    static func parseClient(_ value: String) throws -> (tenant: String?, id: String, secret: String?) {
        var rest = Substring(value)
        var tenant: String?
        if let slash = rest.firstIndex(of: "/"), rest[..<slash].allSatisfy({ $0 != ":" }) {
            tenant = String(rest[..<slash])
            rest = rest[rest.index(after: slash)...]
        }
        let id: String
        var secret: String?
        if let colon = rest.firstIndex(of: ":") {
            id = String(rest[..<colon])
            secret = String(rest[rest.index(after: colon)...])
        } else {
            id = String(rest)
        }
        guard !id.isEmpty, secret?.isEmpty != true, tenant?.isEmpty != true else {
            throw ValidationError("--client expects ID:SECRET, ID or TENANT/ID:SECRET")
        }
        if let tenant,
            !tenant.unicodeScalars.allSatisfy({
                $0.isASCII && (CharacterSet.alphanumerics.contains($0) || "-._~".unicodeScalars.contains($0))
            })
        {
            throw ValidationError("a tenant label may contain only letters, digits, '-', '.', '_' and '~'")
        }
        return (tenant, id, secret)
    }

    func run() async throws {
        var configuration = MockAuthorizationServer.Configuration()
        configuration.port = port
        configuration.accessTokenLifetime = .seconds(tokenLifetime)
        configuration.refreshTokenLifetime = refreshTokenLifetime.map { .seconds($0) }
        configuration.rotatesRefreshTokens = rotateRefreshTokens
        configuration.revokesFamilyOnReuse = reuseDetection
        configuration.issuesRefreshTokenForClientCredentials = clientCredentialsRefreshTokens
        configuration.authorizationDecision = deny ? .deny : .approve
        configuration.latency = .milliseconds(latencyMilliseconds)

        let signals = SignalWaiter(signals: [SIGINT, SIGTERM])
        let server = try await MockAuthorizationServer.start(configuration: configuration)
        for client in clients {
            let (tenant, id, secret) = try Self.parseClient(client)
            server.registerClient(id: id, secret: secret.map(Secret.init), tenant: tenant)
        }
        // An unbuffered write: the line reaches a pipe at once.
        FileHandle.standardOutput.write(Data("listening on \(server.baseURL.absoluteString)\n".utf8))
        let signal = await signals.wait()
        FileHandle.standardError.write(Data("received signal \(signal), shutting down\n".utf8))
        try await server.shutdown()
    }
}

/// Turns SIGINT/SIGTERM into an awaitable event with Dispatch signal sources (the default handlers are ignored
/// so the process does not die before the server has shut down).
final class SignalWaiter: Sendable {
    private let stream: AsyncStream<Int32>
    // The sources must stay alive; they are only touched from `init`.
    nonisolated(unsafe) private var sources: [any DispatchSourceSignal] = []

    init(signals: [Int32]) {
        let (stream, continuation) = AsyncStream<Int32>.makeStream()
        self.stream = stream
        for number in signals {
            Foundation.signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { continuation.yield(number) }
            source.resume()
            sources.append(source)
        }
    }

    /// Returns the first signal received.
    func wait() async -> Int32 {
        for await number in stream { return number }
        return 0
    }
}

/// Parses the arguments and runs the command (`main()` would resolve to the synchronous `ParsableCommand.main()`
/// from top-level code).
func runCommand() async {
    do {
        let command = try MockAuthorizationServerCommand.parse()
        try await command.run()
    } catch {
        MockAuthorizationServerCommand.exit(withError: error)
    }
}

await runCommand()
