/// Sends one HTTP request to a provider and returns the response.
///
/// The broker is generic over its transport (`Broker<Transport, Mapper>`), so a call through it is direct and can
/// be specialised. `OAuthBrokerCurl.CurlTransport` is the default; `OAuthBrokerTesting.FakeTransport` scripts
/// responses for tests; any HTTP client can be wrapped.
///
/// Contract:
/// - Return every HTTP response, whatever its status; throw only when no response was received (connection,
///   DNS, TLS, timeout, a body over the size limit, a refused redirect).
/// - Do not follow redirects: a token endpoint that redirects is an error.
/// - Honour task cancellation by abandoning the request and throwing `CancellationError` (or an error your
///   mapper maps to ``BrokerError/Code/cancelled``).
/// - Never block a thread of Swift's cooperative pool.
public protocol TokenTransport: Sendable {
    /// Sends `request` and returns the response.
    /// - Throws: An error describing why no response was received; the broker passes it to its
    ///   ``TransportErrorMapper``.
    func send(_ request: TransportRequest) async throws -> TransportResponse
}

/// Turns what a transport throws into a ``BrokerError``.
///
/// Pair a mapper with its transport: it knows that transport's errors (libcurl's `CURLcode`s, a client library's
/// error enum). It also classifies unsuccessful HTTP *responses*; the default does that with
/// ``ResponseClassifier`` (RFC 6749 §5.2), after the provider's ``ProviderStrategy`` has had its say.
public protocol TransportErrorMapper: Sendable {
    /// Maps a transport failure to a typed error.
    /// - Parameters:
    ///   - error: What ``TokenTransport/send(_:)`` threw.
    ///   - request: The request that failed (for its URL; never copy its body or headers into the error).
    /// - Returns: An error whose code says whether retrying can help.
    func mapTransportError(_ error: any Error, for request: TransportRequest) -> BrokerError

    /// Classifies a response that is not a successful token response (a non-2xx status, or a 2xx whose body is
    /// an OAuth error).
    /// - Returns: The error to throw or retry on.
    func mapErrorResponse(_ response: TransportResponse, metadata: ResponseMetadata, provider: ProviderID)
        -> BrokerError
}

extension TransportErrorMapper {
    /// Classifies with ``ResponseClassifier/classify(_:metadata:provider:)``.
    public func mapErrorResponse(_ response: TransportResponse, metadata: ResponseMetadata, provider: ProviderID)
        -> BrokerError
    {
        ResponseClassifier.classify(response, metadata: metadata, provider: provider)
    }
}

/// A mapper for transports that throw ``BrokerError`` already: passes those through, maps cancellation, and
/// wraps anything else as ``BrokerError/Code/transportFailed``.
public struct PassthroughErrorMapper: TransportErrorMapper {
    /// Creates the mapper.
    public init() {}

    /// Passes ``BrokerError`` through; maps `CancellationError` to ``BrokerError/Code/cancelled``.
    public func mapTransportError(_ error: any Error, for request: TransportRequest) -> BrokerError {
        if let error = error as? BrokerError { return error }
        if error is CancellationError { return BrokerError(.cancelled, "the request was cancelled") }
        return BrokerError(
            .transportFailed, "request to \(request.url.host ?? "endpoint") failed: \(type(of: error))")
    }
}
