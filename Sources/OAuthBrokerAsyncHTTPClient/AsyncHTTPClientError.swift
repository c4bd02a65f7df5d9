/// Why an ``AsyncHTTPClientTransport`` received no response.
///
/// ``AsyncHTTPClientErrorMapper`` turns it into a ``OAuthBroker/BrokerError`` with the same code
/// `CurlErrorMapper` gives the same fault. The ``message`` is short and may name the host; it never contains the
/// URL's path or query, a header value or a body.
public struct AsyncHTTPClientError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The kind of failure.
    public struct Kind: Hashable, Sendable, CustomStringConvertible {
        fileprivate enum Value: String, Hashable, Sendable {
            case dnsFailure = "dns_failure"
            case connectionFailed = "connection_failed"
            case timedOut = "timed_out"
            case tlsFailure = "tls_failure"
            case responseTooLarge = "response_too_large"
            case redirectFollowed = "redirect_followed"
            case shutDown = "shut_down"
            case invalidRequest = "invalid_request"
            case unsupportedURL = "unsupported_url"
            case transportFailed = "transport_failed"
        }
        fileprivate let value: Value

        /// The host name could not be resolved; no connection was made.
        public static let dnsFailure = Kind(value: .dnsFailure)
        /// No connection could be made (refused, unreachable); the request was not sent.
        public static let connectionFailed = Kind(value: .connectionFailed)
        /// The request's deadline, the connect timeout or the TLS handshake timeout passed.
        public static let timedOut = Kind(value: .timedOut)
        /// The TLS handshake failed: an untrusted or mismatched certificate, or a peer that does not speak TLS.
        public static let tlsFailure = Kind(value: .tlsFailure)
        /// The response body exceeded ``AsyncHTTPClientTransport/Configuration/maximumResponseBodyBytes``.
        public static let responseTooLarge = Kind(value: .responseTooLarge)
        /// A wrapped client followed a redirect although it must not; the response is refused.
        public static let redirectFollowed = Kind(value: .redirectFollowed)
        /// The transport was shut down before or while the request ran (see ``AsyncHTTPClientTransport/shutdown()``).
        public static let shutDown = Kind(value: .shutDown)
        /// The request cannot be sent as given (a malformed method, a header name that is not a token, or a header
        /// value with CR, LF or NUL).
        public static let invalidRequest = Kind(value: .invalidRequest)
        /// The URL has a scheme other than `http`/`https`, or no host.
        public static let unsupportedURL = Kind(value: .unsupportedURL)
        /// Anything else: the connection was closed or reset mid-request, a malformed response, …
        public static let transportFailed = Kind(value: .transportFailed)

        /// A short snake_case name.
        public var description: String { value.rawValue }
    }

    /// The kind of failure.
    public let kind: Kind
    /// A short explanation, free of secrets; it may name the host.
    public let message: String

    /// Creates an error.
    /// - Parameters:
    ///   - kind: The kind of failure.
    ///   - message: A short explanation. It must not contain a secret, a header value, a body or a URL query.
    public init(_ kind: Kind, message: String) {
        self.kind = kind
        self.message = message
    }

    /// `<kind>: <message>`.
    public var description: String { "\(kind): \(message)" }
}
