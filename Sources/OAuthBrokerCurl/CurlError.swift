/// Why a ``CurlTransport`` received no response.
///
/// ``CurlErrorMapper`` turns it into a ``OAuthBroker/BrokerError`` with a precise code. The ``message`` is short and
/// may name the host; it never contains the URL's path or query, a header, or a body.
public struct CurlError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The kind of failure: libcurl's, or one the transport detected itself.
    public struct Kind: Hashable, Sendable, CustomStringConvertible {
        fileprivate enum Value: String, Hashable, Sendable {
            case curl
            case responseTooLarge = "response_too_large"
            case shutDown = "shut_down"
            case
                invalidRequest = "invalid_request"
        }
        fileprivate let value: Value

        /// libcurl failed the transfer; ``CurlError/curlCode`` holds its `CURLcode`.
        public static let curl = Kind(value: .curl)
        /// The response body exceeded ``CurlTransport/Configuration/maximumResponseBodyBytes``.
        public static let responseTooLarge = Kind(value: .responseTooLarge)
        /// The transport was shut down before the request finished (see ``CurlTransport/shutdown()``).
        public static let shutDown = Kind(value: .shutDown)
        /// The request cannot be sent as given (a malformed method or header).
        public static let invalidRequest = Kind(value: .invalidRequest)

        /// A short snake_case name.
        public var description: String { value.rawValue }
    }

    /// The kind of failure.
    public let kind: Kind
    /// libcurl's `CURLcode` (for example 6, `CURLE_COULDNT_RESOLVE_HOST`), when libcurl reported the failure.
    public let curlCode: Int?
    /// A short explanation, free of secrets; it may name the host.
    public let message: String

    /// Creates an error.
    /// - Parameters:
    ///   - kind: The kind of failure.
    ///   - curlCode: libcurl's `CURLcode`, for ``Kind/curl``.
    ///   - message: A short explanation. It must not contain a secret, a header, a body or a URL query.
    public init(_ kind: Kind, curlCode: Int? = nil, message: String) {
        self.kind = kind
        self.curlCode = curlCode
        self.message = message
    }

    /// `curl error <code>: <message>` or `<kind>: <message>`.
    public var description: String {
        if let curlCode { return "curl error \(curlCode): \(message)" }
        return "\(kind): \(message)"
    }
}
