import Foundation
import Tracing

extension Broker {
    /// Sends a token request for `grant` with `parameters` (plus client authentication and the provider's extra
    /// parameters), retrying transient failures, and parses the response.
    func tokenRequest(
        grant: ProviderDescriptor.Grant, parameters: [(String, String)], deadline: Date, key: StoreKey?
    ) async throws -> TokenResponse {
        var form: [(String, String)] = [("grant_type", grant.rawValue)] + parameters
        form += provider.extraTokenParameters.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        let request = makeRequest(url: provider.tokenEndpoint, form: form)
        let (response, metadata) = try await send(
            request, flow: grant.rawValue, grant: grant, deadline: deadline, key: key)
        do {
            return try TokenResponse(
                parsing: response.body, scopeDelimiter: provider.scopeDelimiter,
                tokenTypeWhenMissing: provider.strategy.tokenTypeWhenMissing)
        } catch let error as BrokerError {
            throw BrokerError(
                error.code, error.message, status: metadata.status, provider: provider.id, key: key)
        }
    }

    /// Builds a form POST with the provider's client authentication.
    func makeRequest(url: URL, form: [(String, String)]) -> TransportRequest {
        var form = form
        var headers: TransportHeaders = [
            "Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json",
        ]
        switch provider.clientAuthentication {
        case .clientSecretBasic:
            if let secret = provider.clientSecret {
                headers.add(
                    name: "Authorization",
                    value: FormEncoding.basicAuthorization(clientID: provider.clientID, clientSecret: secret))
            }
        case .clientSecretPost:
            form.append(("client_id", provider.clientID))
            if let secret = provider.clientSecret { form.append(("client_secret", secret.revealedValue)) }
        default:
            form.append(("client_id", provider.clientID))
        }
        return TransportRequest(method: "POST", url: url, headers: headers, body: FormEncoding.encode(form))
    }

    /// Sends `request`, retrying transient failures with exponential backoff and jitter, honouring `Retry-After`,
    /// within `deadline`. Returns only a 2xx response whose body is not an OAuth error.
    ///
    /// For grants that must not be replayed (`authorization_code`, `refresh_token`: a lost response after the
    /// server processed the request would burn the code or trip reuse detection), only failures that prove the
    /// request was not processed are retried: connection and DNS failures, 429, and 5xx.
    ///
    /// One span (`oauth.token_request`) and one `oauth_broker_token_requests_total` count per call, whatever the
    /// number of attempts.
    func send(
        _ request: TransportRequest, flow: String, grant: ProviderDescriptor.Grant?, deadline: Date, key: StoreKey?
    ) async throws -> (TransportResponse, ResponseMetadata) {
        let start = MonotonicTime.now()
        return try await tracer.withSpan("oauth.token_request", ofKind: .client) { span in
            span.attributes["oauth.provider"] = provider.id.rawValue
            span.attributes["oauth.flow"] = flow
            span.attributes["server.address"] = request.url.host ?? ""
            do {
                let (response, metadata, attempts) = try await sendWithRetries(
                    request, grant: grant, deadline: deadline, key: key)
                span.attributes["oauth.attempts"] = attempts
                span.attributes["http.response.status_code"] = response.status
                metrics.tokenRequest(
                    flow: flow, outcome: "success", nanoseconds: MonotonicTime.nanoseconds(since: start))
                return (response, metadata)
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

    private func sendWithRetries(
        _ request: TransportRequest, grant: ProviderDescriptor.Grant?, deadline: Date, key: StoreKey?
    ) async throws -> (TransportResponse, ResponseMetadata, attempts: Int) {
        let clock = configuration.clock
        let retry = configuration.retry
        let oneTime = grant == .authorizationCode || grant == .refreshToken
        var backoff = retry.initialBackoff
        var attempt = 0
        while true {
            attempt += 1
            let remaining = deadline.timeIntervalSince(clock.now())
            guard remaining > 0 else {
                throw BrokerError(
                    .deadlineExceeded, "the token request ran out of time", provider: provider.id, key: key)
            }
            var attemptRequest = request
            attemptRequest.timeout = min(configuration.requestTimeout, .milliseconds(Int64(remaining * 1000)))
            provider.strategy.prepare(&attemptRequest, grant: grant)
            do {
                let (response, metadata) = try await sendOnce(attemptRequest)
                return (response, metadata, attempt)
            } catch let error as BrokerError {
                let error = error.adding(provider: provider.id, key: key)
                let retryable =
                    oneTime
                    ? [.connectionFailed, .dnsFailure, .rateLimited, .providerUnavailable].contains(error.code)
                    : error.isTransient
                guard retryable, attempt < retry.maxAttempts else { throw error }
                let delay: Duration
                if let retryAfter = error.retryAfter {
                    guard retryAfter <= retry.maximumRetryAfter else { throw error }
                    delay = retryAfter
                } else {
                    delay = backoff * Double.random(in: 0.5...1.0)
                    backoff = min(backoff * 2, retry.maximumBackoff)
                }
                guard clock.now().addingTimeInterval(delay.timeInterval) < deadline else { throw error }
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
    /// the mapper's response classification.
    private func sendOnce(_ request: TransportRequest) async throws -> (TransportResponse, ResponseMetadata) {
        let response: TransportResponse
        do {
            response = try await transport.send(request)
        } catch {
            throw errorMapper.mapTransportError(error, for: request)
        }
        let metadata = ResponseMetadata(response, now: configuration.clock.now())
        if let error = provider.strategy.classify(response, metadata: metadata) { throw error }
        if (200..<300).contains(response.status), ResponseClassifier.oauthError(in: response.body) == nil {
            return (response, metadata)
        }
        throw errorMapper.mapErrorResponse(response, metadata: metadata, provider: provider.id)
    }
}
