public import OAuthBroker

/// Maps what ``AsyncHTTPClientTransport`` throws to ``OAuthBroker/BrokerError``s, with the codes
/// `CurlErrorMapper` gives the same faults.
///
/// | fault | ``AsyncHTTPClientError/Kind`` | code |
/// |---|---|---|
/// | host name not resolved | ``AsyncHTTPClientError/Kind/dnsFailure`` | ``OAuthBroker/BrokerError/Code/dnsFailure`` |
/// | connection refused or unreachable | ``AsyncHTTPClientError/Kind/connectionFailed`` | ``OAuthBroker/BrokerError/Code/connectionFailed`` |
/// | deadline, connect or TLS-handshake timeout | ``AsyncHTTPClientError/Kind/timedOut`` | ``OAuthBroker/BrokerError/Code/timedOut`` |
/// | certificate not trusted or for another name, peer not speaking TLS | ``AsyncHTTPClientError/Kind/tlsFailure`` | ``OAuthBroker/BrokerError/Code/tlsFailure`` |
/// | body over the limit | ``AsyncHTTPClientError/Kind/responseTooLarge`` | ``OAuthBroker/BrokerError/Code/responseTooLarge`` |
/// | a wrapped client followed a redirect | ``AsyncHTTPClientError/Kind/redirectFollowed`` | ``OAuthBroker/BrokerError/Code/redirectRefused`` |
/// | task cancelled, transport shut down | ``AsyncHTTPClientError/Kind/shutDown`` | ``OAuthBroker/BrokerError/Code/cancelled`` |
/// | scheme other than http/https, no host | ``AsyncHTTPClientError/Kind/unsupportedURL`` | ``OAuthBroker/BrokerError/Code/invalidConfiguration`` |
/// | malformed method or header | ``AsyncHTTPClientError/Kind/invalidRequest`` | ``OAuthBroker/BrokerError/Code/invalidInput`` |
/// | anything else (reset, closed, malformed response) | ``AsyncHTTPClientError/Kind/transportFailed`` | ``OAuthBroker/BrokerError/Code/transportFailed`` |
///
/// An error of AsyncHTTPClient, SwiftNIO or NIOSSL that did not pass through the transport (from a custom
/// transport over the same client) is classified the same way. Unsuccessful responses are classified by
/// ``OAuthBroker/ResponseClassifier`` (the protocol's default).
public struct AsyncHTTPClientErrorMapper: TransportErrorMapper {
    /// Creates the mapper.
    public init() {}

    /// Maps an ``AsyncHTTPClientError``, `CancellationError`, ``OAuthBroker/BrokerError`` (passed through) or an
    /// AsyncHTTPClient/NIO error to a ``OAuthBroker/BrokerError``.
    /// - Parameters:
    ///   - error: What ``AsyncHTTPClientTransport/send(_:)`` threw.
    ///   - request: The request that failed; only its host is named in the result.
    /// - Returns: The typed error, with the ``AsyncHTTPClientError`` as its underlying error.
    public func mapTransportError(_ error: any Error, for request: TransportRequest) -> BrokerError {
        if let error = error as? BrokerError { return error }
        if error is CancellationError { return BrokerError(.cancelled, "the request was cancelled") }
        let host = request.url.host ?? "the endpoint"
        let typed = AsyncHTTPClientError.classify(error, host: host)
        return BrokerError(Self.code(for: typed.kind), typed.message, underlying: typed)
    }

    /// The broker code for a kind.
    static func code(for kind: AsyncHTTPClientError.Kind) -> BrokerError.Code {
        switch kind {
        case .dnsFailure: return .dnsFailure
        case .connectionFailed: return .connectionFailed
        case .timedOut: return .timedOut
        case .tlsFailure: return .tlsFailure
        case .responseTooLarge: return .responseTooLarge
        case .redirectFollowed: return .redirectRefused
        case .shutDown: return .cancelled
        case .invalidRequest: return .invalidInput
        case .unsupportedURL: return .invalidConfiguration
        default: return .transportFailed
        }
    }
}
