public import OAuthBroker

extension MockAuthorizationServer {
    /// One of the server's four endpoints.
    public struct Endpoint: Hashable, Sendable, CustomStringConvertible {
        enum Value: String, Sendable, CaseIterable {
            case token
            case authorization = "authorize"
            case revocation = "revoke"
            case introspection = "introspect"
        }

        let value: Value

        /// The token endpoint, `POST /token` (RFC 6749 §3.2).
        public static let token = Endpoint(value: .token)
        /// The authorization endpoint, `GET /authorize` (RFC 6749 §3.1).
        public static let authorization = Endpoint(value: .authorization)
        /// The revocation endpoint, `POST /revoke` (RFC 7009).
        public static let revocation = Endpoint(value: .revocation)
        /// The introspection endpoint, `POST /introspect` (RFC 7662).
        public static let introspection = Endpoint(value: .introspection)

        /// Every endpoint.
        public static let all: [Endpoint] = Value.allCases.map(Endpoint.init(value:))

        /// The last path component: `token`, `authorize`, `revoke` or `introspect`.
        public var pathComponent: String { value.rawValue }

        /// The path component.
        public var description: String { value.rawValue }
    }

    /// A scripted misbehaviour, queued per endpoint with ``MockAuthorizationServer/enqueue(_:for:)`` and consumed
    /// by the next request to that endpoint.
    ///
    /// Faults that only answer (``tooManyRequests(retryAfter:)``, ``internalServerError``, ``malformedJSON``…)
    /// do not process the request: no token is issued or rotated. ``slowBody(delay:)``,
    /// ``dropConnectionAfterProcessing``, ``badGatewayAfterProcessing``, ``gatewayTimeoutAfterProcessing``,
    /// ``respondAfterProcessing(status:)`` and ``afterProcessing(_:)`` process it normally first, which simulates a
    /// response late or lost after the server acted (a rotated refresh token the client never sees).
    /// ``slowResponse(delay:)`` waits first and processes the request only then.
    /// ``alteringResponseFields(_:)`` processes it and sends the real response with some JSON fields changed.
    public struct Fault: Sendable, CustomStringConvertible {
        enum Kind: Sendable {
            case respond(status: Int, headers: [(String, String)], body: [UInt8])
            /// Process the request, then send this response instead of the real one.
            case processThenRespond(status: Int, headers: [(String, String)], body: [UInt8])
            case slowBody(Duration)
            case slowResponse(Duration)
            case dropConnection(afterProcessing: Bool)
            /// Process the request, then send its 2xx JSON object with these fields replaced, added or removed.
            case alterFields([String: JSONLiteral?])
        }

        let kind: Kind
        let name: String

        /// 429 Too Many Requests with `Retry-After` in whole seconds (rounded up) and an HTML body.
        ///
        /// - Parameter retryAfter: The delay to ask for; `nil` sends no `Retry-After`.
        /// - Returns: The fault.
        public static func tooManyRequests(retryAfter: Duration? = .seconds(1)) -> Fault {
            Fault(
                kind: .respond(
                    status: 429, headers: [("Content-Type", "text/html; charset=utf-8")] + retryAfterHeader(retryAfter),
                    body: Array("<html><body><h1>429 Too Many Requests</h1></body></html>".utf8)),
                name: "tooManyRequests")
        }

        /// 503 Service Unavailable with `Retry-After` in whole seconds (rounded up) and an HTML body.
        ///
        /// - Parameter retryAfter: The delay to ask for; `nil` sends no `Retry-After`.
        /// - Returns: The fault.
        public static func serviceUnavailable(retryAfter: Duration? = .seconds(1)) -> Fault {
            Fault(
                kind: .respond(
                    status: 503, headers: [("Content-Type", "text/html; charset=utf-8")] + retryAfterHeader(retryAfter),
                    body: Array("<html><body><h1>503 Service Unavailable</h1></body></html>".utf8)),
                name: "serviceUnavailable")
        }

        /// 500 Internal Server Error with an HTML page (no OAuth error body).
        public static let internalServerError = Fault(
            kind: .respond(
                status: 500, headers: [("Content-Type", "text/html; charset=utf-8")],
                body: Array(
                    """
                    <!DOCTYPE html>
                    <html><head><title>500</title></head><body><h1>Internal Server Error</h1></body></html>

                    """.utf8)),
            name: "internalServerError")

        /// 200 OK, `Content-Type: application/json`, with a truncated JSON object.
        public static let malformedJSON = Fault(
            kind: .respond(
                status: 200, headers: jsonHeaders,
                body: Array(#"{"access_token":"mock-truncated","token_type":"Be"#.utf8)),
            name: "malformedJSON")

        /// 200 OK with a well-formed JSON token response that lacks `access_token`.
        public static let missingAccessToken = Fault(
            kind: .respond(
                status: 200, headers: jsonHeaders,
                body: Array(#"{"expires_in":3600,"refresh_token":"mock-orphan","token_type":"Bearer"}"#.utf8)),
            name: "missingAccessToken")

        /// Process the request normally, send the response head at once and the body only after `delay`.
        ///
        /// - Parameter delay: How long to hold the body back.
        /// - Returns: The fault.
        public static func slowBody(delay: Duration) -> Fault {
            Fault(kind: .slowBody(delay), name: "slowBody")
        }

        /// Wait `delay` (on top of the configured latency), then process the request and answer normally.
        ///
        /// - Parameter delay: How long to wait before processing.
        /// - Returns: The fault.
        public static func slowResponse(delay: Duration) -> Fault {
            Fault(kind: .slowResponse(delay), name: "slowResponse")
        }

        /// Close the connection without processing the request or sending anything.
        public static let dropConnection = Fault(kind: .dropConnection(afterProcessing: false), name: "dropConnection")

        /// Process the request (issue, rotate or revoke as usual), then close the connection without answering.
        public static let dropConnectionAfterProcessing = Fault(
            kind: .dropConnection(afterProcessing: true), name: "dropConnectionAfterProcessing")

        /// A redirect to `location`, which a token endpoint must never send.
        ///
        /// - Parameters:
        ///   - location: The `Location` header value.
        ///   - status: The 3xx status. Defaults to 302.
        /// - Returns: The fault.
        public static func redirect(to location: String, status: Int = 302) -> Fault {
            Fault(
                kind: .respond(
                    status: status, headers: [("Location", location), ("Content-Type", "text/plain")],
                    body: Array("moved\n".utf8)),
                name: "redirect")
        }

        /// 200 OK with a JSON body of exactly `byteCount` bytes (at least 16): a token response padded with spaces.
        ///
        /// - Parameter byteCount: The body size.
        /// - Returns: The fault.
        public static func oversizedBody(byteCount: Int) -> Fault {
            let prefix = Array(#"{"pad":""#.utf8)
            let suffix = Array(#""}"#.utf8)
            let padding = max(0, byteCount - prefix.count - suffix.count)
            return Fault(
                kind: .respond(
                    status: 200, headers: jsonHeaders,
                    body: prefix + [UInt8](repeating: 0x78, count: padding) + suffix),
                name: "oversizedBody")
        }

        /// An RFC 6749 §5.2 error response, for example a spurious `invalid_grant` or `temporarily_unavailable`.
        ///
        /// - Parameters:
        ///   - error: The `error` value.
        ///   - status: The HTTP status. Defaults to 400.
        ///   - description: The `error_description`, if any.
        /// - Returns: The fault.
        public static func oauthError(_ error: OAuthErrorCode, status: Int = 400, description: String? = nil) -> Fault {
            var object: [String: Any] = ["error": error.rawValue]
            if let description { object["error_description"] = description }
            return Fault(
                kind: .respond(status: status, headers: jsonHeaders, body: JSONBody.encode(object)),
                name: "oauthError(\(error.rawValue))")
        }

        /// Any response.
        ///
        /// - Parameters:
        ///   - status: The HTTP status.
        ///   - headers: Header fields; `Content-Length` is always set by the server.
        ///   - body: The body.
        /// - Returns: The fault.
        public static func response(status: Int, headers: [(String, String)] = [], body: [UInt8] = []) -> Fault {
            Fault(kind: .respond(status: status, headers: headers, body: body), name: "response(\(status))")
        }

        /// Any response with a UTF-8 body.
        ///
        /// - Parameters:
        ///   - status: The HTTP status.
        ///   - headers: Header fields; `Content-Length` is always set by the server.
        ///   - body: The body, sent as UTF-8.
        /// - Returns: The fault.
        public static func response(status: Int, headers: [(String, String)] = [], body: String) -> Fault {
            response(status: status, headers: headers, body: Array(body.utf8))
        }

        /// The fault's name, for example `tooManyRequests`.
        public var description: String { name }

        private static let jsonHeaders = [("Content-Type", "application/json"), ("Cache-Control", "no-store")]

        private static func retryAfterHeader(_ delay: Duration?) -> [(String, String)] {
            guard let delay else { return [] }
            return [("Retry-After", String(wholeSeconds(delay)))]
        }
    }
}

/// Whole seconds in `duration`, rounded up, at least zero.
func wholeSeconds(_ duration: Duration) -> Int64 {
    let (seconds, attoseconds) = duration.components
    return max(0, attoseconds > 0 ? seconds + 1 : seconds)
}
