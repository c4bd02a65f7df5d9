import Foundation
import OAuthBroker

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// A ``TokenTransport`` over Foundation's `URLSession`, for applications that already use it.
///
/// The transport contract: return every HTTP response whatever its status, never follow a redirect (a token
/// endpoint that redirects is an error the broker reports), honour cancellation, never block the caller's thread.
final class URLSessionTransport: TokenTransport {
    private let session: URLSession

    init(configuration: URLSessionConfiguration = .ephemeral) {
        configuration.httpCookieStorage = nil
        configuration.urlCache = nil
        configuration.requestCachePolicy = .reloadIgnoringLocalCacheData
        session = URLSession(configuration: configuration, delegate: RefuseRedirects(), delegateQueue: nil)
    }

    deinit { session.invalidateAndCancel() }

    func send(_ request: TransportRequest) async throws -> TransportResponse {
        var urlRequest = URLRequest(url: request.url)
        urlRequest.httpMethod = request.method
        urlRequest.httpBody = request.body
        if let timeout = request.timeout {
            let (seconds, attoseconds) = timeout.components
            urlRequest.timeoutInterval = TimeInterval(seconds) + TimeInterval(attoseconds) / 1e18
        }
        for field in request.headers { urlRequest.addValue(field.value, forHTTPHeaderField: field.name) }

        let (body, response) = try await session.data(for: urlRequest)
        guard let http = response as? HTTPURLResponse else { throw URLError(.badServerResponse) }
        var headers = TransportHeaders()
        for (name, value) in http.allHeaderFields {
            headers.add(name: String(describing: name), value: String(describing: value))
        }
        return TransportResponse(status: http.statusCode, headers: headers, body: body)
    }
}

/// Hands a redirect back as the response instead of following it.
private final class RefuseRedirects: NSObject, URLSessionTaskDelegate, Sendable {
    func urlSession(
        _ session: URLSession, task: URLSessionTask, willPerformHTTPRedirection response: HTTPURLResponse,
        newRequest request: URLRequest, completionHandler: @escaping @Sendable (URLRequest?) -> Void
    ) {
        completionHandler(nil)
    }
}

/// Types `URLError`s, so the broker knows which failures are worth retrying.
struct URLSessionErrorMapper: TransportErrorMapper {
    func mapTransportError(_ error: any Error, for request: TransportRequest) -> BrokerError {
        if let error = error as? BrokerError { return error }
        if error is CancellationError { return BrokerError(.cancelled, "the request was cancelled") }
        let host = request.url.host ?? "the endpoint"
        guard let urlError = error as? URLError else {
            return BrokerError(.transportFailed, "request to \(host) failed: \(type(of: error))")
        }
        let code: BrokerError.Code
        switch urlError.code {
        case .cannotConnectToHost, .networkConnectionLost, .notConnectedToInternet: code = .connectionFailed
        case .cannotFindHost, .dnsLookupFailed: code = .dnsFailure
        case .timedOut: code = .timedOut
        case .secureConnectionFailed, .serverCertificateUntrusted, .serverCertificateHasBadDate,
            .serverCertificateNotYetValid, .serverCertificateHasUnknownRoot, .clientCertificateRejected:
            code = .tlsFailure
        case .cancelled: code = .cancelled
        default: code = .transportFailed
        }
        // The message names the host and the URLError code only: never the request's body or headers.
        return BrokerError(code, "request to \(host) failed (URLError \(urlError.code.rawValue))")
    }
    // Unsuccessful responses use the default RFC 6749 classification (ResponseClassifier).
}
