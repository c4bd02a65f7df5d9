public import AsyncHTTPClient
import Foundation
public import Logging
import NIOCore
import NIOHTTP1
import NIOSSL
public import OAuthBroker
import Synchronization

/// A ``OAuthBroker/TokenTransport`` over AsyncHTTPClient (SwiftNIO): HTTP/1.1 and HTTP/2, TLS through NIOSSL.
///
/// Use it instead of `CurlTransport` when the application already runs on SwiftNIO, or where libcurl is not
/// available. Any number of tasks can `send` at once; nothing blocks a thread of Swift's cooperative pool.
///
/// Two ways to make one:
/// - ``init(configuration:logger:)`` creates and **owns** an `HTTPClient` on NIO's shared event loop group,
///   configured from ``Configuration``: redirects disallowed, TLS verification on, connection limits, connect
///   timeout. The transport shuts it down in ``shutdown()``, on the `ServiceGroup`'s graceful shutdown, or when it
///   is deinitialised.
/// - ``init(wrappingClientWithRedirectsDisabled:configuration:logger:)`` **wraps** a client the caller made and
///   shuts down. The caller must have configured it with `redirectConfiguration: .disallow`; a response that
///   nevertheless followed a redirect is refused (``AsyncHTTPClientError/Kind/redirectFollowed``).
///
/// Behaviour of every request: the method and header names must be RFC 9110 tokens and header values must not
/// contain CR, LF or NUL (checked before anything is sent); `Content-Length` is computed from the body; the body is
/// collected up to ``Configuration/maximumResponseBodyBytes``; the whole request (connection, response head and
/// body) must finish within ``OAuthBroker/TransportRequest/timeout`` or ``Configuration/requestTimeout``.
/// Cancelling the calling task abandons the request (its connection is closed) and throws `CancellationError`.
///
/// ```swift
/// let transport = try AsyncHTTPClientTransport()
/// let broker = try Broker(
///     provider: provider, store: store, transport: transport, errorMapper: AsyncHTTPClientErrorMapper())
/// // …
/// try await transport.shutdown()
/// ```
public final class AsyncHTTPClientTransport: TokenTransport {
    /// The client requests go through.
    public let client: HTTPClient
    /// The configuration the transport was created with.
    public let configuration: Configuration
    /// Whether the transport created ``client`` (and so shuts it down), rather than wrapping the caller's.
    public let ownsClient: Bool

    private let logger: Logger
    private let isShutDown = Atomic<Bool>(false)
    private let opened: ConnectionCounter?
    private let collectLimit: Int

    /// Creates a transport that owns a new `HTTPClient`.
    /// - Parameters:
    ///   - configuration: Timeouts, limits and TLS settings; validated here.
    ///   - logger: Where the transport and its client log at `.trace`/`.debug` (never header values or bodies).
    ///     By default nothing is logged.
    /// - Throws: ``OAuthBroker/BrokerError`` (``OAuthBroker/BrokerError/Code/invalidConfiguration``) for an invalid
    ///   configuration or unreadable TLS files.
    public init(configuration: Configuration = Configuration(), logger: Logger? = nil) throws {
        try configuration.validate()
        let logger = logger ?? Logger(label: "oauth-broker.ahc", factory: { _ in SwiftLogNoOpLogHandler() })
        let counter = ConnectionCounter()
        var clientConfiguration = HTTPClient.Configuration(
            tlsConfiguration: try Self.tlsConfiguration(configuration),
            redirectConfiguration: .disallow,
            // AsyncHTTPClient bounds two waits with this one timeout: establishing a connection, and waiting in the
            // pool for a free one when `maximumConnectionsPerHost` are busy. With `connectTimeout` alone, a request
            // queued behind a slow one would fail long before its own deadline; the transport's own timer enforces
            // the request timeout either way.
            timeout: .init(
                connect: .nanoseconds(
                    max(configuration.connectTimeout, configuration.requestTimeout).nanosecondsClamped),
                read: nil),
            connectionPool: .init(
                idleTimeout: .nanoseconds(configuration.idleConnectionTimeout.nanosecondsClamped),
                concurrentHTTP1ConnectionsPerHostSoftLimit: configuration.maximumConnectionsPerHost),
            proxy: nil,
            ignoreUncleanSSLShutdown: false,
            decompression: .disabled)
        // One attempt per connection, as curl makes: a refused connection fails the request at once, and the
        // broker's retry policy (with backoff, only where a retry is safe) decides what happens next.
        clientConfiguration.connectionPool.retryConnectionEstablishment = false
        clientConfiguration.http1_1ConnectionDebugInitializer = { channel in
            counter.increment()
            return channel.eventLoop.makeSucceededVoidFuture()
        }
        clientConfiguration.http2ConnectionDebugInitializer = { channel in
            counter.increment()
            return channel.eventLoop.makeSucceededVoidFuture()
        }
        self.client = HTTPClient(
            eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: clientConfiguration,
            backgroundActivityLogger: logger)
        self.configuration = configuration
        self.ownsClient = true
        self.logger = logger
        self.opened = counter
        self.collectLimit = configuration.maximumResponseBodyBytes
    }

    /// Creates a transport over a client the caller made, owns and shuts down.
    ///
    /// - Important: The client must not follow redirects (`HTTPClient.Configuration.redirectConfiguration =
    ///   .disallow`): a token request that follows one has already sent its grant to a second URL. A response that
    ///   came after a redirect is refused with ``AsyncHTTPClientError/Kind/redirectFollowed``, but only after the
    ///   fact. The client's TLS, connection and connect-timeout settings are used as they are; from
    ///   `configuration` only ``Configuration/requestTimeout``, ``Configuration/maximumResponseBodyBytes`` and
    ///   ``Configuration/userAgent`` apply. ``shutdown()`` (and a `ServiceGroup`'s graceful shutdown) stop the
    ///   transport but leave the client running; shut it down yourself after the transport's last request.
    ///   ``connectionsOpened`` is `nil`: a wrapped client's connections cannot be observed.
    /// - Parameters:
    ///   - client: The caller's client, configured with redirects disallowed.
    ///   - configuration: The per-request settings; validated here.
    ///   - logger: Where the transport logs at `.trace`/`.debug`. By default nothing is logged.
    /// - Throws: ``OAuthBroker/BrokerError`` (``OAuthBroker/BrokerError/Code/invalidConfiguration``) for an invalid
    ///   configuration.
    public init(
        wrappingClientWithRedirectsDisabled client: HTTPClient, configuration: Configuration = Configuration(),
        logger: Logger? = nil
    ) throws {
        try configuration.validate()
        self.client = client
        self.configuration = configuration
        self.ownsClient = false
        self.logger = logger ?? Logger(label: "oauth-broker.ahc", factory: { _ in SwiftLogNoOpLogHandler() })
        self.opened = nil
        self.collectLimit = configuration.maximumResponseBodyBytes
    }

    deinit {
        // AsyncHTTPClient requires a client to be shut down before it is released.
        if ownsClient, !isShutDown.exchange(true, ordering: .acquiringAndReleasing) {
            client.shutdown { _ in }
        }
    }

    /// Sends `request` and returns the final response, whatever its status.
    ///
    /// The request may take ``OAuthBroker/TransportRequest/timeout``, or ``Configuration/requestTimeout`` when that
    /// is `nil`, from connecting to the last byte of the body. Cancelling the calling task abandons the request and
    /// throws `CancellationError`.
    ///
    /// - Parameter request: The request; `http` or `https` only.
    /// - Returns: The status, the final response's header fields and the body.
    /// - Throws: `CancellationError` when the task is cancelled; otherwise ``AsyncHTTPClientError`` (map it with
    ///   ``AsyncHTTPClientErrorMapper``).
    public func send(_ request: TransportRequest) async throws -> TransportResponse {
        try Task.checkCancellation()
        let host = request.url.host ?? "the endpoint"
        guard !isShutDown.load(ordering: .acquiring) else {
            throw AsyncHTTPClientError(.shutDown, message: "the AsyncHTTPClient transport was shut down")
        }
        let prepared = try makeRequest(request, host: host)
        let timeout = request.timeout ?? configuration.requestTimeout
        let client = self.client
        let limit = collectLimit
        logger.trace("sending", metadata: ["oauth.transport": "ahc", "http.request.method": "\(request.method)"])
        do {
            return try await withThrowingTaskGroup(of: TransportResponse?.self) { group in
                group.addTask {
                    let response = try await client.execute(
                        prepared, timeout: .nanoseconds(timeout.nanosecondsClamped))
                    if response.history.count > 1 {
                        throw AsyncHTTPClientError(
                            .redirectFollowed, message: "request to \(host): the wrapped client followed a redirect")
                    }
                    let body = try await response.body.collect(upTo: limit)
                    // A body sequence ends early when its task is cancelled; never return such a body.
                    try Task.checkCancellation()
                    var headers = TransportHeaders()
                    for (name, value) in response.headers { headers.add(name: name, value: value) }
                    return TransportResponse(
                        status: Int(response.status.code), headers: headers, body: Data(body.readableBytesView))
                }
                // The deadline of the whole exchange: AsyncHTTPClient's own covers the response head only.
                group.addTask {
                    try await Task.sleep(for: timeout)
                    return nil
                }
                defer { group.cancelAll() }
                guard let response = try await group.next() ?? nil else {
                    throw AsyncHTTPClientError(
                        .timedOut, message: "request to \(host) failed: no complete response within \(timeout)")
                }
                return response
            }
        } catch {
            throw translate(error, host: host)
        }
    }

    /// Stops the transport: later ``send(_:)`` calls fail at once with ``AsyncHTTPClientError/Kind/shutDown``.
    /// An owned client is shut down, which fails the requests in flight (with the same kind) and closes every
    /// connection; a wrapped client is left to its owner. Calling it again does nothing.
    /// - Throws: What the owned client's shutdown threw (rarely anything).
    public func shutdown() async throws {
        guard !isShutDown.exchange(true, ordering: .acquiringAndReleasing) else { return }
        if ownsClient { try await client.shutdown() }
    }

    /// The number of new connections the owned client has opened so far (after TCP, TLS and protocol
    /// negotiation), or `nil` for a wrapped client.
    ///
    /// Sequential requests to one host over keep-alive add 1 in all; a value that grows with every request means
    /// connections are not being reused.
    public var connectionsOpened: Int? { opened?.value }

    // MARK: - Request building

    private func makeRequest(_ request: TransportRequest, host: String) throws -> HTTPClientRequest {
        func invalid(_ message: String) -> AsyncHTTPClientError {
            AsyncHTTPClientError(.invalidRequest, message: "request to \(host): \(message)")
        }
        guard HeaderGrammar.isToken(request.method) else { throw invalid("the method is not a valid token") }
        var headers = HTTPHeaders()
        var hasUserAgent = false
        for field in request.headers {
            guard HeaderGrammar.isToken(field.name) else { throw invalid("a header name is not a valid token") }
            guard !field.value.unicodeScalars.contains(where: { $0 == "\r" || $0 == "\n" || $0 == "\0" }) else {
                throw invalid("the value of header \(field.name) contains a line break")
            }
            let lowered = field.name.lowercased()
            // Framing is computed from the body.
            if lowered == "content-length" || lowered == "transfer-encoding" { continue }
            if lowered == "user-agent" { hasUserAgent = true }
            headers.add(name: field.name, value: field.value)
        }
        if !hasUserAgent { headers.add(name: "User-Agent", value: configuration.userAgent) }
        let scheme = request.url.scheme?.lowercased()
        guard scheme == "http" || scheme == "https", request.url.host != nil else {
            throw AsyncHTTPClientError(
                .unsupportedURL, message: "request to \(host): only http and https URLs with a host are supported")
        }
        var prepared = HTTPClientRequest(url: request.url.absoluteString)
        prepared.method = HTTPMethod(rawValue: request.method)
        prepared.headers = headers
        if !request.body.isEmpty || request.method != "GET" {
            prepared.body = .bytes(ByteBuffer(bytes: request.body))
        }
        return prepared
    }

    /// What `send` throws for `error`: `CancellationError` when the calling task was cancelled, ``Kind/shutDown``
    /// once the transport is shut down, else the classified error.
    private func translate(_ error: any Error, host: String) -> any Error {
        if Task.isCancelled { return CancellationError() }
        if isShutDown.load(ordering: .acquiring), !(error is AsyncHTTPClientError) {
            return AsyncHTTPClientError(.shutDown, message: "the AsyncHTTPClient transport was shut down")
        }
        return AsyncHTTPClientError.classify(error, host: host)
    }

    // MARK: - TLS

    private static func tlsConfiguration(_ configuration: Configuration) throws -> TLSConfiguration {
        var tls = TLSConfiguration.makeClientConfiguration()
        if let path = configuration.caBundlePath { tls.trustRoots = .file(path) }
        if !configuration.verifiesPeer {
            tls.certificateVerification = .none
        } else if !configuration.verifiesHost {
            tls.certificateVerification = .noHostnameVerification
        }
        if let certificatePath = configuration.clientCertificatePath {
            do {
                tls.certificateChain = try NIOSSLCertificate.fromPEMFile(certificatePath).map { .certificate($0) }
                tls.privateKey = .privateKey(
                    try NIOSSLPrivateKey(file: configuration.clientKeyPath ?? certificatePath, format: .pem))
            } catch {
                throw BrokerError(
                    .invalidConfiguration, "AsyncHTTPClientTransport: the client certificate or key cannot be read")
            }
        }
        return tls
    }
}

/// Counts connections the owned client opened (incremented on NIO's event loops, read anywhere).
private final class ConnectionCounter: Sendable {
    private let count = Atomic<Int>(0)
    var value: Int { count.load(ordering: .relaxed) }
    func increment() { count.wrappingAdd(1, ordering: .relaxed) }
}
