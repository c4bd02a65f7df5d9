public import Foundation

/// One HTTP request to a provider endpoint (token, revocation, introspection).
///
/// The body is already encoded (`application/x-www-form-urlencoded` for every OAuth endpoint).
///
/// - Important: The body and the `Authorization` header carry secrets. ``description`` prints neither.
public struct TransportRequest: Sendable, CustomStringConvertible {
    /// The HTTP method, `POST` for every OAuth endpoint the broker calls.
    public var method: String
    /// The absolute endpoint URL.
    public var url: URL
    /// Request headers, including `Content-Type`, `Accept` and, for `client_secret_basic`, `Authorization`.
    public var headers: TransportHeaders
    /// The encoded body.
    public var body: Data
    /// The time this one attempt may take; `nil` leaves it to the transport's configuration.
    public var timeout: Duration?

    /// Creates a request.
    public init(
        method: String = "POST", url: URL, headers: TransportHeaders = [:], body: Data = Data(),
        timeout: Duration? = nil
    ) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.timeout = timeout
    }

    /// `METHOD url (N body bytes)`; no header values, no body.
    public var description: String { "\(method) \(url.absoluteString) (\(body.count) body bytes)" }
}

extension TransportRequest: CustomReflectable {
    /// Reflection (`dump`) shows the method, URL, header names and body size: never header values or the body.
    public var customMirror: Mirror {
        Mirror(
            self,
            children: [
                "method": method, "url": url.absoluteString, "headerNames": headers.map(\.name),
                "bodyBytes": body.count,
            ], displayStyle: .struct)
    }
}

/// The HTTP response a transport received.
public struct TransportResponse: Sendable, CustomStringConvertible {
    /// The status code of the final response.
    public var status: Int
    /// All header fields of the final response (not of interim 1xx responses).
    public var headers: TransportHeaders
    /// The body.
    public var body: Data

    /// Creates a response.
    public init(status: Int, headers: TransportHeaders = [:], body: Data = Data()) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// `HTTP status (N body bytes)`; never the body, which may carry tokens.
    public var description: String { "HTTP \(status) (\(body.count) body bytes)" }
}

extension TransportResponse: CustomReflectable {
    /// Reflection (`dump`) shows the status, header names and body size: never the body.
    public var customMirror: Mirror {
        Mirror(
            self, children: ["status": status, "headerNames": headers.map(\.name), "bodyBytes": body.count],
            displayStyle: .struct)
    }
}
