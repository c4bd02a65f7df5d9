import Foundation
import OAuthBroker
import OAuthBrokerCurl
import OAuthBrokerTesting
import OAuthBrokerTools

/// The token endpoint a scenario talks to, and a way to count the requests it received.
final class IdentityProvider: Sendable {
    /// The embedded server, when no external endpoint was given.
    let server: MockAuthorizationServer?
    let tokenEndpoint: URL
    let clientID: String
    let clientSecret: Secret
    let clientAuthentication: ProviderDescriptor.ClientAuthentication

    private init(
        server: MockAuthorizationServer?, tokenEndpoint: URL, clientID: String, clientSecret: Secret,
        clientAuthentication: ProviderDescriptor.ClientAuthentication
    ) {
        self.server = server
        self.tokenEndpoint = tokenEndpoint
        self.clientID = clientID
        self.clientSecret = clientSecret
        self.clientAuthentication = clientAuthentication
    }

    /// Starts the embedded mock server (on 127.0.0.1, an ephemeral port) or points at `--token-endpoint`.
    static func start(_ options: IdentityProviderOptions) async throws -> IdentityProvider {
        if let endpoint = options.tokenEndpoint, let clientID = options.clientID, let secret = options.clientSecret {
            guard let url = URL(string: endpoint) else { throw BenchError("--token-endpoint is not a URL") }
            return IdentityProvider(
                server: nil, tokenEndpoint: url, clientID: clientID, clientSecret: Secret(secret),
                clientAuthentication: options.clientAuth.method)
        }
        var configuration = MockAuthorizationServer.Configuration()
        configuration.latency = .milliseconds(options.idpLatencyMs)
        let server = try await MockAuthorizationServer.start(configuration: configuration)
        let secret = Secret("bench-secret-\(UInt64.random(in: 0...UInt64.max))")
        server.registerClient(id: "bench-client", secret: secret)
        return IdentityProvider(
            server: server, tokenEndpoint: server.tokenEndpoint, clientID: "bench-client", clientSecret: secret,
            clientAuthentication: options.clientAuth.method)
    }

    /// Token-endpoint requests the mock server has received, or `nil` for an external endpoint (unknown).
    var tokenRequests: Int? { server?.statistics.requests(to: .token) }

    /// Refresh-token grant requests the mock server has received, or `nil` for an external endpoint.
    var refreshRequests: Int? { server?.statistics.requests(grant: .refreshToken) }

    /// `tokenRequests` now minus `before` (both known), else `nil`.
    func tokenRequests(since before: Int?) -> Int? {
        guard let before, let now = tokenRequests else { return nil }
        return now - before
    }

    /// A provider registration for this endpoint, allowing client credentials and refresh.
    func provider(id: String = "bench") throws -> ProviderDescriptor {
        try ProviderDescriptor(
            id: try ProviderID(id), tokenEndpoint: tokenEndpoint, clientID: clientID, clientSecret: clientSecret,
            clientAuthentication: clientAuthentication, grants: [.clientCredentials, .refreshToken],
            allowsInsecureLoopback: true)
    }

    /// A broker over `store` that talks to this endpoint through libcurl, with room for `connections` parallel
    /// connections.
    func makeBroker(store: some BrokerStore, connections: Int = 8, configuration: BrokerConfiguration = .init())
        throws -> Broker<CurlTransport, CurlErrorMapper>
    {
        var transport = CurlTransport.Configuration()
        transport.maximumConnectionsPerHost = max(connections, 1)
        transport.maximumConnections = max(connections, 64)
        transport.maximumIdleHandles = max(connections, 16)
        return try Broker(
            provider: try provider(), store: store, configuration: configuration, transportConfiguration: transport)
    }

    /// A broker over `store` that talks to this endpoint through the chosen transport, with room for
    /// `connections` parallel connections.
    func makeBroker(
        store: some BrokerStore, connections: Int, transport: TransportChoice,
        configuration: BrokerConfiguration = .init()
    ) throws -> Broker<SelectedTransport, SelectedTransportErrorMapper> {
        try transport.makeBroker(
            provider: try provider(), store: store, configuration: configuration, connections: connections)
    }

    func shutdown() async {
        try? await server?.shutdown()
    }

    /// Starts the identity provider, runs `body` with it, and shuts it down whether `body` returns or throws.
    /// - Returns: What `body` returns.
    static func with<Result>(
        _ options: IdentityProviderOptions, _ body: (IdentityProvider) async throws -> Result
    ) async throws -> Result {
        let idp = try await start(options)
        do {
            let result = try await body(idp)
            await idp.shutdown()
            return result
        } catch {
            await idp.shutdown()
            throw error
        }
    }
}

/// A bench failure with a message for standard error.
struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
