import CCurl
public import OAuthBroker

/// Maps what ``CurlTransport`` throws to ``OAuthBroker/BrokerError``s with precise codes.
///
/// - Host name not resolved (`CURLE_COULDNT_RESOLVE_HOST`, `…_PROXY`) →
///   ``OAuthBroker/BrokerError/Code/dnsFailure``.
/// - Connection refused or unreachable (`CURLE_COULDNT_CONNECT`) → ``OAuthBroker/BrokerError/Code/connectionFailed``.
/// - Timeout (`CURLE_OPERATION_TIMEDOUT`) → ``OAuthBroker/BrokerError/Code/timedOut``.
/// - TLS handshake or certificate failure (`CURLE_SSL_*`, `CURLE_PEER_FAILED_VERIFICATION`, …) →
///   ``OAuthBroker/BrokerError/Code/tlsFailure``.
/// - Body over the limit (`CURLE_FILESIZE_EXCEEDED`, or the transport's own check) →
///   ``OAuthBroker/BrokerError/Code/responseTooLarge``.
/// - Task cancelled, transport shut down → ``OAuthBroker/BrokerError/Code/cancelled``.
/// - Scheme other than http/https, malformed URL, option this libcurl lacks →
///   ``OAuthBroker/BrokerError/Code/invalidConfiguration``.
/// - Malformed method or header → ``OAuthBroker/BrokerError/Code/invalidInput``.
/// - Anything else (connection reset, empty reply, …) → ``OAuthBroker/BrokerError/Code/transportFailed``.
///
/// ``OAuthBroker/BrokerError/Code/connectionFailed`` and ``OAuthBroker/BrokerError/Code/dnsFailure`` are used only
/// where the request cannot have reached the server, because the broker retries them even for one-time grants.
/// Unsuccessful responses are classified by ``OAuthBroker/ResponseClassifier`` (the protocol's default).
public struct CurlErrorMapper: TransportErrorMapper {
    /// Creates the mapper.
    public init() {}

    /// Maps a ``CurlError``, `CancellationError` or ``OAuthBroker/BrokerError`` (passed through) to a
    /// ``OAuthBroker/BrokerError``; anything else becomes ``OAuthBroker/BrokerError/Code/transportFailed``.
    /// - Parameters:
    ///   - error: What ``CurlTransport/send(_:)`` threw.
    ///   - request: The request that failed; only its host is named in the result.
    /// - Returns: The typed error, with `error` as its underlying error.
    public func mapTransportError(_ error: any Error, for request: TransportRequest) -> BrokerError {
        if let error = error as? BrokerError { return error }
        if error is CancellationError { return BrokerError(.cancelled, "the request was cancelled") }
        let host = request.url.host ?? "the endpoint"
        guard let error = error as? CurlError else {
            return BrokerError(.transportFailed, "request to \(host) failed: \(type(of: error))")
        }
        return BrokerError(Self.code(for: error), "request to \(host) failed: \(error.message)", underlying: error)
    }

    /// The broker code for a ``CurlError``.
    static func code(for error: CurlError) -> BrokerError.Code {
        switch error.kind {
        case .responseTooLarge: return .responseTooLarge
        case .shutDown: return .cancelled
        case .invalidRequest: return .invalidInput
        default: break
        }
        guard let raw = error.curlCode, let value = UInt32(exactly: raw) else { return .transportFailed }
        switch CURLcode(rawValue: value) {
        case CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY:
            return .dnsFailure
        case CURLE_COULDNT_CONNECT:
            return .connectionFailed
        case CURLE_OPERATION_TIMEDOUT:
            return .timedOut
        case CURLE_SSL_CONNECT_ERROR, CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CERTPROBLEM, CURLE_SSL_CIPHER,
            CURLE_SSL_ENGINE_NOTFOUND, CURLE_SSL_ENGINE_SETFAILED, CURLE_SSL_ENGINE_INITFAILED, CURLE_USE_SSL_FAILED,
            CURLE_SSL_CACERT_BADFILE, CURLE_SSL_SHUTDOWN_FAILED, CURLE_SSL_CRL_BADFILE, CURLE_SSL_ISSUER_ERROR,
            CURLE_SSL_PINNEDPUBKEYNOTMATCH, CURLE_SSL_INVALIDCERTSTATUS, CURLE_SSL_CLIENTCERT:
            return .tlsFailure
        case CURLE_FILESIZE_EXCEEDED:
            return .responseTooLarge
        case CURLE_ABORTED_BY_CALLBACK:
            return .cancelled
        case CURLE_UNSUPPORTED_PROTOCOL, CURLE_URL_MALFORMAT, CURLE_NOT_BUILT_IN, CURLE_UNKNOWN_OPTION,
            CURLE_BAD_FUNCTION_ARGUMENT:
            return .invalidConfiguration
        default:
            return .transportFailed
        }
    }
}
