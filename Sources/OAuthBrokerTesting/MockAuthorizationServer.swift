public import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
public import OAuthBroker
import Synchronization

/// An in-process OAuth 2.0 authorization server on `127.0.0.1`, for tests and benchmarks.
///
/// It speaks HTTP/1.1 with keep-alive over real TCP (SwiftNIO), so it exercises a real transport end to end:
/// - `POST /token`: `client_credentials`, `authorization_code` with PKCE S256 (RFC 7636), and `refresh_token`
///   with rotation and reuse detection (RFC 9700 §4.14.2). Clients authenticate with `client_secret_basic`
///   (form-urlencoded before base64, RFC 6749 §2.3.1), `client_secret_post`, or as public clients. Errors follow
///   RFC 6749 §5.2; every token response carries `Cache-Control: no-store`.
/// - `GET /authorize`: approves (or, in deny mode, refuses) at once and redirects with `302`.
/// - `POST /revoke` (RFC 7009) and `POST /introspect` (RFC 7662).
///
/// The same endpoints also exist under `/tenants/<tenant>/…`, where only clients registered with that tenant label
/// authenticate (see ``endpoint(_:tenant:)``).
///
/// Tests script failures per endpoint with ``enqueue(_:for:)`` (429, 503, HTML 500, malformed JSON, a slow body,
/// a dropped connection, a redirect, an oversized body, any response; a 502 or 504 after the request was
/// processed; a real token response with odd fields), seed grants with ``issueGrant(clientID:scopes:subject:)``,
/// read counters from ``statistics``, and check grants with ``isActive(refreshToken:)``,
/// ``isFamilyActive(of:)`` and ``activeRefreshToken(inFamilyOf:)``.
///
/// ```swift
/// let server = try await MockAuthorizationServer.start()
/// server.registerClient(id: "app", secret: Secret("s3cret"))
/// // … point a ProviderDescriptor at server.tokenEndpoint (allowsInsecureLoopback: true) …
/// try await server.shutdown()
/// ```
///
/// - Important: Call ``shutdown()`` when done (or use ``withRunningServer(configuration:_:)``). Each server owns
///   a one-thread `MultiThreadedEventLoopGroup`; shutting it down closes the listening socket and every open
///   connection, so no test can leak connections into the next one. A server dropped without `shutdown()` starts
///   that shutdown in the background.
public final class MockAuthorizationServer: Sendable, CustomStringConvertible, CustomReflectable {
    let engine: MockServerEngine
    private let group: MultiThreadedEventLoopGroup
    private let channel: any Channel
    private let isShutDown = Mutex(false)

    /// The port the server listens on.
    public let port: Int

    /// `http://127.0.0.1:<port>`.
    public let baseURL: URL

    private init(engine: MockServerEngine, group: MultiThreadedEventLoopGroup, channel: any Channel, port: Int) {
        self.engine = engine
        self.group = group
        self.channel = channel
        self.port = port
        baseURL = URL(string: "http://127.0.0.1:\(port)")!
    }

    /// `MockAuthorizationServer(http://127.0.0.1:<port>)`; never a token or secret.
    public var description: String { "MockAuthorizationServer(\(baseURL.absoluteString))" }

    /// A mirror with only the base URL, so `dump` never walks into the tokens the server holds.
    public var customMirror: Mirror { Mirror(self, children: ["baseURL": baseURL], displayStyle: .class) }

    deinit {
        if !isShutDown.withLock({ $0 }) {
            group.shutdownGracefully(queue: .global()) { _ in }
        }
    }

    // MARK: - Lifecycle

    /// Starts a server listening on `127.0.0.1`.
    ///
    /// - Parameter configuration: The behaviour; by default an ephemeral port, one-hour access tokens, rotation
    ///   and reuse detection on.
    /// - Returns: The running server.
    /// - Throws: ``BrokerError`` with ``BrokerError/Code/invalidConfiguration`` for an invalid configuration or
    ///   when the port cannot be bound.
    public static func start(configuration: Configuration = Configuration()) async throws -> MockAuthorizationServer {
        try configuration.validate()
        let engine = MockServerEngine(configuration: configuration)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let channel: any Channel
        do {
            channel = try await ServerBootstrap(group: group)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .serverChannelOption(.backlog, value: 256)
                .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
                .childChannelInitializer { channel in
                    engine.state.withLock { $0.statistics.connectionsAccepted += 1 }
                    return channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                        try channel.pipeline.syncOperations.addHandler(MockHTTPHandler(engine: engine))
                    }
                }
                .bind(host: "127.0.0.1", port: configuration.port).get()
        } catch {
            try? await group.shutdownGracefully()
            throw BrokerError(
                .invalidConfiguration,
                "the mock authorization server could not listen on 127.0.0.1:\(configuration.port)",
                underlying: error)
        }
        guard let port = channel.localAddress?.port else {
            try? await group.shutdownGracefully()
            throw BrokerError(.invalidConfiguration, "the mock authorization server has no local port")
        }
        return MockAuthorizationServer(engine: engine, group: group, channel: channel, port: port)
    }

    /// Starts a server, runs `body` with it, and shuts it down, also when `body` throws.
    ///
    /// - Parameters:
    ///   - configuration: The behaviour.
    ///   - body: The code to run while the server listens.
    /// - Returns: What `body` returns.
    /// - Throws: What ``start(configuration:)``, `body` or ``shutdown()`` throws (`body`'s error first).
    public static func withRunningServer<Result: Sendable>(
        configuration: Configuration = Configuration(),
        _ body: (MockAuthorizationServer) async throws -> Result
    ) async throws -> Result {
        let server = try await start(configuration: configuration)
        let result: Result
        do {
            result = try await body(server)
        } catch {
            try? await server.shutdown()
            throw error
        }
        try await server.shutdown()
        return result
    }

    /// Stops listening, closes every connection (cancelling pending delayed responses) and stops the server's
    /// event loop. Calling it again does nothing.
    ///
    /// - Throws: An error from NIO if the event loop group could not be shut down.
    public func shutdown() async throws {
        let alreadyShutDown = isShutDown.withLock { state in
            defer { state = true }
            return state
        }
        guard !alreadyShutDown else { return }
        try? await channel.close()
        try await group.shutdownGracefully()
    }

    // MARK: - Endpoints

    /// The URL of `endpoint`, optionally scoped to a tenant: `http://127.0.0.1:<port>/token`, or
    /// `http://127.0.0.1:<port>/tenants/<tenant>/token`.
    ///
    /// - Parameters:
    ///   - endpoint: The endpoint.
    ///   - tenant: A tenant label given to ``registerClient(id:secret:tenant:redirectURIs:authenticationMethods:)``,
    ///     or `nil` for the endpoint that accepts every client.
    /// - Returns: The URL.
    public func endpoint(_ endpoint: Endpoint, tenant: String? = nil) -> URL {
        let path = tenant.map { "/tenants/\($0)/" } ?? "/"
        return URL(string: baseURL.absoluteString + path + endpoint.pathComponent)!
    }

    /// `http://127.0.0.1:<port>/token`.
    public var tokenEndpoint: URL { endpoint(.token) }
    /// `http://127.0.0.1:<port>/authorize`.
    public var authorizationEndpoint: URL { endpoint(.authorization) }
    /// `http://127.0.0.1:<port>/revoke`.
    public var revocationEndpoint: URL { endpoint(.revocation) }
    /// `http://127.0.0.1:<port>/introspect`.
    public var introspectionEndpoint: URL { endpoint(.introspection) }

    // MARK: - Clients

    /// Registers a client (or replaces the one with the same ID).
    ///
    /// - Parameters:
    ///   - id: The client ID. Any string; `client_secret_basic` callers must form-urlencode it (RFC 6749 §2.3.1).
    ///   - secret: The client secret, or `nil` for a public client, which sends only `client_id` (and may not use
    ///     `client_credentials`).
    ///   - tenant: A tenant label: the client then also authenticates at `/tenants/<tenant>/…`, and its requests
    ///     count in ``Statistics/requestsByTenant``. Letters, digits, `-`, `.`, `_`, `~` only.
    ///   - redirectURIs: The accepted redirect URIs; empty (the default) accepts any absolute `http(s)` URI.
    ///   - authenticationMethods: The accepted methods, or `nil` (the default) for any that fits the client
    ///     (`client_secret_basic` and `client_secret_post` with a secret, `none` without).
    /// - Precondition: `id` is not empty and `tenant`, when given, is a non-empty run of the characters above.
    public func registerClient(
        id: String,
        secret: Secret?,
        tenant: String? = nil,
        redirectURIs: [String] = [],
        authenticationMethods: Set<ProviderDescriptor.ClientAuthentication>? = nil
    ) {
        precondition(!id.isEmpty, "a client ID must not be empty")
        if let tenant {
            precondition(
                !tenant.isEmpty
                    && tenant.utf8.allSatisfy { byte in
                        (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte) || (0x30...0x39).contains(byte)
                            || byte == 0x2D || byte == 0x2E || byte == 0x5F || byte == 0x7E
                    },
                "a tenant label may contain only letters, digits, '-', '.', '_' and '~'")
        }
        let client = MockServerEngine.Client(
            id: id, secret: secret, tenant: tenant, redirectURIs: redirectURIs,
            authenticationMethods: authenticationMethods)
        engine.state.withLock { $0.clients[id] = client }
    }

    // MARK: - Behaviour at run time

    /// What the authorization endpoint decides for the next requests. Starts as
    /// ``Configuration/authorizationDecision``.
    public var authorizationDecision: AuthorizationDecision {
        get { engine.state.withLock { $0.decision } }
        set { engine.state.withLock { $0.decision = newValue } }
    }

    /// The delay added before each request is processed. Starts as ``Configuration/latency``.
    public var latency: Duration {
        get { engine.state.withLock { $0.latency } }
        set { engine.state.withLock { $0.latency = max(.zero, newValue) } }
    }

    // MARK: - Faults

    /// Queues `fault` for `endpoint`: the next request to that endpoint consumes it (first in, first out).
    ///
    /// - Parameters:
    ///   - fault: The misbehaviour.
    ///   - endpoint: The endpoint; the token endpoint by default. Tenant-scoped paths share their endpoint's queue.
    public func enqueue(_ fault: Fault, for endpoint: Endpoint = .token) {
        enqueue([fault], for: endpoint)
    }

    /// Queues `faults` for `endpoint`, in order; each is consumed by one request.
    ///
    /// - Parameters:
    ///   - faults: The misbehaviours, first first.
    ///   - endpoint: The endpoint; the token endpoint by default.
    public func enqueue(_ faults: [Fault], for endpoint: Endpoint = .token) {
        engine.state.withLock { $0.faults[endpoint, default: []] += faults }
    }

    /// The number of faults still queued for `endpoint`.
    ///
    /// - Parameter endpoint: The endpoint.
    /// - Returns: The count.
    public func pendingFaultCount(for endpoint: Endpoint = .token) -> Int {
        engine.state.withLock { $0.faults[endpoint]?.count ?? 0 }
    }

    /// Drops every queued fault.
    public func removeAllFaults() {
        engine.state.withLock { $0.faults = [:] }
    }

    // MARK: - Statistics

    /// A snapshot of the counters.
    public var statistics: Statistics { engine.state.withLock { $0.statistics } }

    /// Sets every counter back to zero.
    public func resetStatistics() {
        engine.state.withLock { $0.statistics = Statistics() }
    }
}
