public import Logging
public import OAuthBroker

/// The default ``OAuthBroker/TokenTransport``: HTTP/1.1 and HTTP/2 over libcurl's multi interface.
///
/// One transport runs one dedicated thread that drives every transfer; any number of tasks can `send` at once, and
/// none of them blocks a thread of Swift's cooperative pool. Connections are kept alive and reused (see
/// ``connectionsOpened``), limited per host and in total by ``Configuration``.
///
/// Behaviour fixed by design: only `http` and `https` are used; redirects are never followed (a 3xx comes back as
/// a response, which the broker turns into ``OAuthBroker/BrokerError/Code/redirectRefused``); proxy environment
/// variables are ignored; `Expect: 100-continue` is never sent; bodies over
/// ``Configuration/maximumResponseBodyBytes`` are refused while they arrive.
///
/// ```swift
/// let transport = try CurlTransport()
/// defer { transport.shutdown() }
/// let response = try await transport.send(TransportRequest(url: tokenEndpoint, body: form))
/// ```
///
/// Pair it with ``CurlErrorMapper``, or use the ``OAuthBroker/Broker`` convenience initialiser that creates both.
///
/// - Important: Lifecycle. The driver thread starts in the initialiser and runs until ``shutdown()`` is called or
///   the transport is deinitialised (which calls it). Shutting down fails requests still in flight with
///   ``CurlError`` (``CurlError/Kind/shutDown``) and makes later ``send(_:)`` calls fail at once. Share one transport
///   per process (or per set of brokers) rather than creating one per request: each owns a thread and a
///   connection cache.
public final class CurlTransport: TokenTransport {
    private let driver: CurlMultiDriver
    /// The configuration the transport was created with.
    public let configuration: Configuration

    /// Creates a transport and starts its driver thread.
    /// - Parameters:
    ///   - configuration: Timeouts, limits and TLS settings; validated here.
    ///   - logger: Where the driver logs at `.trace`/`.debug` (never headers or bodies). By default nothing is
    ///     logged.
    /// - Throws: ``OAuthBroker/BrokerError`` (``OAuthBroker/BrokerError/Code/invalidConfiguration``) for an invalid
    ///   configuration or when libcurl cannot initialise.
    public init(configuration: Configuration = Configuration(), logger: Logger? = nil) throws {
        try configuration.validate()
        do {
            driver = try CurlMultiDriver(
                configuration: configuration,
                logger: logger ?? Logger(label: "oauth-broker.curl", factory: { _ in SwiftLogNoOpLogHandler() }))
        } catch {
            throw BrokerError(.invalidConfiguration, "libcurl could not start: \(error.message)", underlying: error)
        }
        self.configuration = configuration
        driver.start()
    }

    deinit { driver.shutdown() }

    /// Sends `request` and returns the final response, whatever its status.
    ///
    /// The request may take ``OAuthBroker/TransportRequest/timeout``, or ``Configuration/requestTimeout`` when that
    /// is `nil`. Cancelling the calling task abandons the transfer (closing its connection) and throws
    /// `CancellationError` at once.
    ///
    /// - Parameter request: The request; `http` or `https` only.
    /// - Returns: The status, the final response's header fields and the body.
    /// - Throws: `CancellationError` when the task is cancelled; otherwise ``CurlError`` (map it with
    ///   ``CurlErrorMapper``): libcurl's failure (DNS, connect, TLS, timeout, unsupported scheme),
    ///   ``CurlError/Kind/responseTooLarge``, ``CurlError/Kind/invalidRequest`` or ``CurlError/Kind/shutDown``.
    public func send(_ request: TransportRequest) async throws -> TransportResponse {
        let transfer = PendingTransfer(request: request)
        let driver = self.driver
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                guard transfer.register(continuation) else { return }
                if !driver.submit(transfer) {
                    transfer.finish(.failure(CurlError(.shutDown, message: "the curl transport was shut down")))
                }
            }
        } onCancel: {
            if transfer.cancel() { driver.cancel(transfer) }
        }
    }

    /// Stops the driver thread: fails every request in flight with ``CurlError/Kind/shutDown``, closes every
    /// connection and frees libcurl's handles. Returns at once, without waiting for the thread to exit; calling it
    /// again does nothing. Requests sent afterwards fail at once.
    public func shutdown() { driver.shutdown() }

    /// The number of new connections (TCP, plus TLS when `https`) the transport has opened so far.
    ///
    /// Sequential requests to one host over keep-alive add 1 in all; a value that grows with every request means
    /// connections are not being reused.
    public var connectionsOpened: Int { driver.connectionsOpened.load(ordering: .relaxed) }

    /// The version of the libcurl the process runs with, and of its TLS and compression libraries
    /// (`libcurl/7.88.1 OpenSSL/3.0.19 zlib/1.2.13 …`).
    public static var libcurlVersion: String { CurlGlobal.versionDescription }
}
