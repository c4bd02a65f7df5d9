import Foundation
public import OAuthBroker
import Synchronization

/// A scriptable, in-memory ``TokenTransport`` for testing code that uses a ``Broker`` without a network.
///
/// Replies come from a queue of scripted ``Reply`` values first; when the queue is empty, from the responder
/// given at creation (by default ``Responder/issuingTokens(expiresIn:rotatesRefreshTokens:)``, which answers every
/// grant with new, unique tokens). Every request is recorded with its decoded form, so tests can count requests per
/// grant and inspect what was sent. Optional latency makes requests slow enough to race.
///
/// Use it with ``PassthroughErrorMapper``: scripted failures are ``BrokerError``s already.
public final class FakeTransport: TokenTransport {
    /// One scripted reply.
    public enum Reply: Sendable {
        /// Answer with this response.
        case response(TransportResponse)
        /// Fail as a transport would (no response received).
        case failure(BrokerError)
        /// Wait for `delay`, then answer with the wrapped reply.
        indirect case delayed(Duration, Reply)
    }

    /// A request as the fake received it.
    public struct RecordedRequest: Sendable {
        /// The request itself.
        public let request: TransportRequest
        /// The decoded form body, in order. Contains secrets: for assertions only.
        public let form: [(String, String)]

        /// The first value of form field `name`.
        public func field(_ name: String) -> String? { form.first { $0.0 == name }?.1 }
        /// The `grant_type` field, if any.
        public var grantType: String? { field("grant_type") }
    }

    /// Produces a reply for a request when no scripted reply is queued.
    public struct Responder: Sendable {
        /// The function.
        public let reply: @Sendable (RecordedRequest, Int) async throws -> Reply

        /// Creates a responder from a function of the request and its 1-based sequence number.
        public init(_ reply: @escaping @Sendable (RecordedRequest, Int) async throws -> Reply) { self.reply = reply }

        /// Answers every token request with a new access token `at-N` (and, for refresh and authorization-code
        /// grants, a refresh token `rt-N`; when `rotatesRefreshTokens` is false, a refresh grant gets no new refresh
        /// token), echoing the requested scope. Revocation requests get an empty 200.
        public static func issuingTokens(expiresIn: Int = 3600, rotatesRefreshTokens: Bool = true) -> Responder {
            Responder { request, number in
                guard let grant = request.grantType else { return .response(TransportResponse(status: 200)) }
                var refresh: String? = nil
                if grant == "authorization_code" || (grant == "refresh_token" && rotatesRefreshTokens) {
                    refresh = "rt-\(number)"
                }
                return .response(
                    FakeTransport.tokenResponse(
                        accessToken: "at-\(number)", refreshToken: refresh, expiresIn: expiresIn,
                        scope: request.field("scope")))
            }
        }
    }

    private struct State {
        var queue: [Reply] = []
        var requests: [RecordedRequest] = []
    }

    private let state = Mutex(State())
    private let responder: Responder
    private let latency: Duration

    /// Creates a fake.
    /// - Parameters:
    ///   - latency: How long every request takes (cancellation ends the wait with `CancellationError`).
    ///   - responder: What to answer when nothing is queued.
    public init(latency: Duration = .zero, responder: Responder = .issuingTokens()) {
        self.latency = latency
        self.responder = responder
    }

    /// Queues replies, answered in order before the responder is asked.
    public func enqueue(_ replies: Reply...) {
        state.withLock { $0.queue.append(contentsOf: replies) }
    }

    /// Every request received, in order.
    public var requests: [RecordedRequest] { state.withLock { $0.requests } }

    /// How many requests were received.
    public var requestCount: Int { state.withLock { $0.requests.count } }

    /// How many token requests used `grant`.
    public func requestCount(grant: ProviderDescriptor.Grant) -> Int {
        state.withLock { $0.requests.filter { $0.grantType == grant.rawValue }.count }
    }

    /// Records the request, waits for the latency, and answers with the next queued reply or the responder's.
    public func send(_ request: TransportRequest) async throws -> TransportResponse {
        let recorded = RecordedRequest(
            request: request, form: FormEncoding.decode(String(decoding: request.body, as: UTF8.self)))
        let (scripted, number) = state.withLock { state -> (Reply?, Int) in
            state.requests.append(recorded)
            let next = state.queue.isEmpty ? nil : state.queue.removeFirst()
            return (next, state.requests.count)
        }
        if latency > .zero { try await Task.sleep(for: latency) }
        let reply: Reply
        if let scripted { reply = scripted } else { reply = try await responder.reply(recorded, number) }
        return try await resolve(reply)
    }

    private func resolve(_ reply: Reply) async throws -> TransportResponse {
        switch reply {
        case .response(let response): return response
        case .failure(let error): throw error
        case .delayed(let delay, let inner):
            try await Task.sleep(for: delay)
            return try await resolve(inner)
        }
    }

    /// A 200 JSON token response.
    public static func tokenResponse(
        accessToken: String, refreshToken: String? = nil, expiresIn: Int? = 3600, scope: String? = nil,
        tokenType: String = "Bearer", extra: [String: String] = [:]
    ) -> TransportResponse {
        var object: [String: Any] = ["access_token": accessToken, "token_type": tokenType]
        if let refreshToken { object["refresh_token"] = refreshToken }
        if let expiresIn { object["expires_in"] = expiresIn }
        if let scope { object["scope"] = scope }
        for (name, value) in extra { object[name] = value }
        return jsonResponse(status: 200, object: object)
    }

    /// A JSON response with `status` and `object` as its body.
    public static func jsonResponse(status: Int, object: [String: Any], headers: TransportHeaders = [:])
        -> TransportResponse
    {
        var all = headers
        all.replace(name: "Content-Type", value: "application/json")
        let body = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
        return TransportResponse(status: status, headers: all, body: body)
    }

    /// An RFC 6749 §5.2 error response.
    public static func oauthError(
        _ code: String, status: Int = 400, description: String? = nil, headers: TransportHeaders = [:]
    ) -> TransportResponse {
        var object: [String: Any] = ["error": code]
        if let description { object["error_description"] = description }
        return jsonResponse(status: status, object: object, headers: headers)
    }

    /// A response with a raw body (an HTML page, malformed JSON).
    public static func rawResponse(status: Int, contentType: String, body: String, headers: TransportHeaders = [:])
        -> TransportResponse
    {
        var all = headers
        all.replace(name: "Content-Type", value: contentType)
        return TransportResponse(status: status, headers: all, body: Data(body.utf8))
    }
}
