import Foundation
import Logging
import Tracing

/// Talks to the provider's endpoints: builds authenticated form requests, sends them through the transport,
/// classifies the answers and retries by the rules of the grant.
///
/// ## Retry rules
/// - Repeatable requests (client credentials, revocation, introspection) are retried on every transient failure
///   (5xx, 429, network errors, time-outs), with exponential backoff and jitter, honouring `Retry-After`.
/// - One-time grants (`refresh_token`, `authorization_code`) are retried only when the request provably did not
///   reach the provider or the provider said it did not process it: connection refused, DNS failure, 429,
///   503 with `Retry-After`, `slow_down`, `temporarily_unavailable`. A 500, 502 or 504, or a time-out, may come
///   from a gateway after the provider rotated the token, so it is never retried: the acquisition leader re-reads
///   the store and a later call starts again from what is stored.
/// - A one-time grant is sent only with at least ``BrokerConfiguration/minimumTimeForOneTimeGrants`` left, and
///   only after `beforeSend` (the lease keep-alive's confirmation) succeeded for that attempt.
struct TokenEndpointClient<Transport: TokenTransport, Mapper: TransportErrorMapper>: Sendable {
    let provider: ProviderDescriptor
    let transport: Transport
    let errorMapper: Mapper
    let configuration: BrokerConfiguration
    let metrics: BrokerMetrics
    let tracer: any Tracer
    let logger: Logger
    /// The headers every request carries, client authentication included: computed once.
    private let baseHeaders: TransportHeaders
    /// Form fields every request carries (client authentication by `client_secret_post` or `none`).
    private let authenticationFields: [(String, String)]
    /// The provider's extra token parameters, in a fixed order.
    private let extraTokenParameters: [(String, String)]

    init(
        provider: ProviderDescriptor, transport: Transport, errorMapper: Mapper, configuration: BrokerConfiguration,
        metrics: BrokerMetrics, tracer: any Tracer, logger: Logger
    ) {
        self.provider = provider
        self.transport = transport
        self.errorMapper = errorMapper
        self.configuration = configuration
        self.metrics = metrics
        self.tracer = tracer
        self.logger = logger
        var headers: TransportHeaders = [
            "Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json",
        ]
        var fields: [(String, String)] = []
        switch provider.clientAuthentication {
        case .clientSecretBasic:
            if let secret = provider.clientSecret {
                headers.add(
                    name: "Authorization",
                    value: FormEncoding.basicAuthorization(clientID: provider.clientID, clientSecret: secret))
            }
        case .clientSecretPost:
            fields.append(("client_id", provider.clientID))
            if let secret = provider.clientSecret { fields.append(("client_secret", secret.revealedValue)) }
        default:
            fields.append(("client_id", provider.clientID))
        }
        baseHeaders = headers
        authenticationFields = fields
        extraTokenParameters = provider.extraTokenParameters.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
    }

    /// Whether `grant` must never be replayed once the provider may have processed it.
    static func isOneTime(_ grant: ProviderDescriptor.Grant?) -> Bool {
        grant == .authorizationCode || grant == .refreshToken
    }

    /// Sends a token request for `grant` with `parameters` (plus client authentication and the provider's extra
    /// parameters) and parses the response.
    ///
    /// - Parameter beforeSend: Runs before every attempt of a one-time grant; if it throws, nothing is sent.
    func tokenRequest(
        grant: ProviderDescriptor.Grant, parameters: [(String, String)], deadline: Date, key: StoreKey?,
        beforeSend: (@Sendable () async throws -> Void)? = nil
    ) async throws -> TokenResponse {
        let form = [("grant_type", grant.rawValue)] + parameters + extraTokenParameters
        let request = makeRequest(url: provider.tokenEndpoint, form: form)
        let (response, metadata, json) = try await send(
            request, flow: grant.rawValue, grant: grant, deadline: deadline, key: key, beforeSend: beforeSend)
        let parsed: TokenResponse
        do {
            if let json {
                parsed = try TokenResponse(
                    json: json, scopeDelimiter: provider.scopeDelimiter,
                    tokenTypeWhenMissing: provider.strategy.tokenTypeWhenMissing)
            } else {
                // Not strict JSON (an HTML page, a pathologically deep body): the lenient parse gives the right
                // error, or the usable response.
                parsed = try TokenResponse(
                    parsing: response.body, scopeDelimiter: provider.scopeDelimiter,
                    tokenTypeWhenMissing: provider.strategy.tokenTypeWhenMissing)
            }
        } catch let error as BrokerError {
            throw BrokerError(error.code, error.message, status: metadata.status, provider: provider.id, key: key)
        }
        if !parsed.adjustments.isEmpty {
            // Field names and what was done, never a value.
            logger.warning(
                "token response fields adjusted",
                metadata: [
                    "oauth.provider": "\(provider.id)", "oauth.flow": "\(grant.rawValue)",
                    "oauth.adjustments": "\(parsed.adjustments.map(\.description).joined(separator: "; "))",
                ])
        }
        return parsed
    }

    /// A form POST to `url` with the provider's client authentication.
    func makeRequest(url: URL, form: [(String, String)]) -> TransportRequest {
        TransportRequest(
            method: "POST", url: url, headers: baseHeaders, body: FormEncoding.encode(form + authenticationFields))
    }

    /// Sends `request` by the retry rules of `grant` within `deadline`. Returns only a 2xx response whose body is
    /// not an OAuth error, with the body parsed once as JSON (`nil` when it is not JSON).
    ///
    /// One span (`oauth.token_request`) and one `oauth_broker_token_requests_total` count per call, whatever the
    /// number of attempts.
    func send(
        _ request: TransportRequest, flow: String, grant: ProviderDescriptor.Grant?, deadline: Date, key: StoreKey?,
        beforeSend: (@Sendable () async throws -> Void)? = nil
    ) async throws -> (TransportResponse, ResponseMetadata, JSONValue?) {
        let start = MonotonicTime.now()
        return try await tracer.withSpan("oauth.token_request", ofKind: .client) { span in
            span.attributes["oauth.provider"] = provider.id.rawValue
            span.attributes["oauth.flow"] = flow
            span.attributes["server.address"] = request.url.host ?? ""
            do {
                let (response, metadata, json, attempts) = try await sendWithRetries(
                    request, grant: grant, deadline: deadline, key: key, beforeSend: beforeSend)
                span.attributes["oauth.attempts"] = attempts
                span.attributes["http.response.status_code"] = response.status
                metrics.tokenRequest(
                    flow: flow, outcome: "success", nanoseconds: MonotonicTime.nanoseconds(since: start))
                return (response, metadata, json)
            } catch {
                let code = (error as? BrokerError)?.code.description ?? "cancelled"
                span.attributes["oauth.error"] = code
                if let status = (error as? BrokerError)?.status {
                    span.attributes["http.response.status_code"] = status
                }
                span.setStatus(SpanStatus(code: .error))
                metrics.tokenRequest(flow: flow, outcome: code, nanoseconds: MonotonicTime.nanoseconds(since: start))
                throw error
            }
        }
    }

    /// Whether a failed attempt of a one-time grant may be sent again: only when the provider provably did not
    /// process it.
    static func provesNotProcessed(_ error: BrokerError) -> Bool {
        switch error.code {
        case .connectionFailed, .dnsFailure, .rateLimited: return true
        default: return error.oauthError == .temporarilyUnavailable
        }
    }

    private func sendWithRetries(
        _ request: TransportRequest, grant: ProviderDescriptor.Grant?, deadline: Date, key: StoreKey?,
        beforeSend: (@Sendable () async throws -> Void)?
    ) async throws -> (TransportResponse, ResponseMetadata, JSONValue?, attempts: Int) {
        let clock = configuration.clock
        let retry = configuration.retry
        let oneTime = Self.isOneTime(grant)
        let minimumLeft = oneTime ? (configuration.minimumTimeForOneTimeGrants ?? configuration.requestTimeout) : nil
        var backoff = retry.initialBackoff
        var attempt = 0
        while true {
            attempt += 1
            let remaining = deadline.timeIntervalSince(clock.now())
            guard remaining > 0 else {
                throw BrokerError(
                    .deadlineExceeded, "the token request ran out of time", provider: provider.id, key: key)
            }
            if let minimumLeft, remaining < minimumLeft.timeInterval {
                throw BrokerError(
                    .deadlineExceeded,
                    "not sending a one-time grant with \(Int(remaining * 1000)) ms left (at least \(minimumLeft) needed)",
                    provider: provider.id, key: key)
            }
            if oneTime, let beforeSend { try await beforeSend() }
            var attemptRequest = request
            attemptRequest.timeout = min(configuration.requestTimeout, .milliseconds(Int64(remaining * 1000)))
            provider.strategy.prepare(&attemptRequest, grant: grant)
            do {
                let (response, metadata, json) = try await sendOnce(attemptRequest)
                return (response, metadata, json, attempt)
            } catch let error as BrokerError {
                let error = error.adding(provider: provider.id, key: key)
                let retryable = oneTime ? Self.provesNotProcessed(error) : error.isTransient
                guard retryable, attempt < retry.maxAttempts else { throw error }
                let delay: Duration
                if let retryAfter = error.retryAfter {
                    guard retryAfter <= retry.maximumRetryAfter else { throw error }
                    delay = retryAfter
                } else {
                    delay = backoff * Double.random(in: 0.5...1.0)
                    backoff = min(backoff * 2, retry.maximumBackoff)
                }
                // A one-time grant must still have its minimum time left after the wait, or it is not retried.
                let needed = delay + (minimumLeft ?? .zero)
                guard clock.now().addingTimeInterval(needed.timeInterval) < deadline else { throw error }
                logger.debug(
                    "retrying token request",
                    metadata: [
                        "oauth.provider": "\(provider.id)", "oauth.flow": "\(grant?.rawValue ?? "other")",
                        "error": "\(error.code)", "attempt": "\(attempt)", "delay": "\(delay)",
                    ])
                try await clock.sleep(delay)
            }
        }
    }

    /// One attempt: transport failures go through the mapper; unsuccessful responses through the strategy and
    /// the mapper's response classification. The body is parsed as JSON once, here.
    private func sendOnce(_ request: TransportRequest) async throws -> (TransportResponse, ResponseMetadata, JSONValue?)
    {
        let response: TransportResponse
        do {
            response = try await transport.send(request)
        } catch {
            throw errorMapper.mapTransportError(error, for: request)
        }
        let metadata = ResponseMetadata(response, now: configuration.clock.now())
        if let error = provider.strategy.classify(response, metadata: metadata) { throw error }
        let json = try? JSONValue(parsing: response.body)
        if (200..<300).contains(response.status), json.flatMap(ResponseClassifier.oauthError(in:)) == nil {
            return (response, metadata, json)
        }
        throw errorMapper.mapErrorResponse(response, metadata: metadata, provider: provider.id)
    }
}
