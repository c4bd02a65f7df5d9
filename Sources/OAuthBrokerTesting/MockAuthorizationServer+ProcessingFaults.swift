import NIOHTTP1

// Faults that let the server do the work and then hide or distort the result: a gateway in front of a provider
// that rotated the refresh token, or a provider that sends odd fields next to a real token.
extension MockAuthorizationServer.Fault {
    /// Processes the request as usual (a refresh rotates the refresh token, a code is spent, a revocation revokes),
    /// then answers with `response` instead of the real answer.
    ///
    /// This simulates a proxy or gateway in front of a provider that did the work but whose answer never reached
    /// the client, for example `.afterProcessing(.malformedJSON)` (a truncated body after a rotation) or
    /// `.afterProcessing(.oauthError(.temporarilyUnavailable, status: 503))`.
    ///
    /// - Parameter response: A fault that only answers (``tooManyRequests(retryAfter:)``, ``internalServerError``,
    ///   ``malformedJSON``, ``oauthError(_:status:description:)``, a custom `response(status:headers:body:)`…).
    ///   A fault that already processes the request is returned unchanged, and ``dropConnection`` becomes
    ///   ``dropConnectionAfterProcessing``.
    /// - Returns: The fault.
    public static func afterProcessing(_ response: Self) -> Self {
        switch response.kind {
        case .respond(let status, let headers, let body):
            return Self(
                kind: .processThenRespond(status: status, headers: headers, body: body),
                name: "afterProcessing(\(response.name))")
        case .dropConnection:
            return dropConnectionAfterProcessing
        case .processThenRespond, .slowBody, .slowResponse, .alterFields:
            return response
        }
    }

    /// Processes the request as usual, then answers with `status` and a small HTML error page, as a gateway or load
    /// balancer does when it gives up on an upstream that did the work.
    ///
    /// - Parameter status: The HTTP status, for example 502, 503 or 504.
    /// - Returns: The fault.
    public static func respondAfterProcessing(status: Int) -> Self {
        Self(
            kind: .processThenRespond(
                status: status, headers: [("Content-Type", "text/html; charset=utf-8")], body: gatewayPage(status)),
            name: "respondAfterProcessing(\(status))")
    }

    /// Processes the request as usual (the refresh token rotates, the code is spent), then answers
    /// `502 Bad Gateway` with a gateway's HTML page instead of the tokens.
    public static let badGatewayAfterProcessing = Self(
        kind: .processThenRespond(
            status: 502, headers: [("Content-Type", "text/html; charset=utf-8")], body: gatewayPage(502)),
        name: "badGatewayAfterProcessing")

    /// Processes the request as usual (the refresh token rotates, the code is spent), then answers
    /// `504 Gateway Timeout` with a gateway's HTML page instead of the tokens.
    public static let gatewayTimeoutAfterProcessing = Self(
        kind: .processThenRespond(
            status: 504, headers: [("Content-Type", "text/html; charset=utf-8")], body: gatewayPage(504)),
        name: "gatewayTimeoutAfterProcessing")

    /// Processes the request as usual and sends the real response, with some fields of its JSON object replaced,
    /// added or removed: odd minor fields next to a real, rotated refresh token.
    ///
    /// ```swift
    /// server.enqueue(.alteringResponseFields(["expires_in": 0, "scope": "a\"b", "id_token": 42, "token_type": nil]))
    /// server.enqueue(.alteringResponseFields(["expires_in": .raw("1e12")]))
    /// ```
    /// Only a 2xx response whose body is a JSON object is altered; anything else (an `invalid_grant` for a bad
    /// refresh token, a redirect from the authorization endpoint) is sent unchanged. Fields are written in key
    /// order with the response's other headers kept.
    ///
    /// - Parameter changes: Each field name with its new value, or with `nil` to remove the field.
    /// - Returns: The fault.
    public static func alteringResponseFields(_ changes: [String: MockAuthorizationServer.JSONLiteral?]) -> Self {
        Self(
            kind: .alterFields(changes),
            name: "alteringResponseFields(\(changes.keys.sorted().joined(separator: ", ")))")
    }

    /// An nginx-style error page.
    private static func gatewayPage(_ status: Int) -> [UInt8] {
        let reason = HTTPResponseStatus(statusCode: status).reasonPhrase
        let title = reason.isEmpty ? "\(status)" : "\(status) \(reason)"
        return Array(
            """
            <html>
            <head><title>\(title)</title></head>
            <body>
            <center><h1>\(title)</h1></center>
            <hr><center>nginx</center>
            </body>
            </html>

            """.utf8)
    }
}
