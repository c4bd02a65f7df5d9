import CoreMetrics
import Synchronization

/// The broker's metric objects, created once per broker and cached (never built per call).
///
/// Names and labels (all labels are low-cardinality: never a tenant, principal or token):
///
/// | metric | kind | labels |
/// |---|---|---|
/// | `oauth_broker_cache_hits_total` | counter | `provider` |
/// | `oauth_broker_cache_misses_total` | counter | `provider` |
/// | `oauth_broker_stale_served_total` | counter | `provider` |
/// | `oauth_broker_singleflight_joins_total` | counter | `provider` |
/// | `oauth_broker_token_requests_total` | counter | `provider`, `flow`, `outcome` |
/// | `oauth_broker_token_request_duration` | timer | `provider`, `flow` |
/// | `oauth_broker_refresh_duration` | timer | `provider`, `outcome` |
/// | `oauth_broker_lease_waits_total` | counter | `provider`, `store` |
/// | `oauth_broker_lease_wait_duration` | timer | `provider`, `store` |
/// | `oauth_broker_store_operation_duration` | timer | `store`, `operation` |
/// | `oauth_broker_store_errors_total` | counter | `store`, `operation`, `code` |
/// | `oauth_broker_events_total` | counter | `provider`, `kind` |
///
/// `flow` is a grant type (`client_credentials`, `refresh_token`, `authorization_code`) or `revocation` /
/// `introspection`; `outcome` is `success` or a ``BrokerError/Code`` description.
final class BrokerMetrics: Sendable {
    let cacheHits: Counter
    let cacheMisses: Counter
    let staleServed: Counter
    let singleFlightJoins: Counter
    let leaseWaits: Counter
    let leaseWaitDuration: Timer
    /// Whether the factory records anything. With the default no-op factory (checked once, here) a cache hit skips
    /// even the counter's dynamic call.
    let isRecording: Bool

    private let factory: any MetricsFactory
    private let provider: String
    private let store: String
    private let cached = Mutex<[String: any AnyObject & Sendable]>([:])

    init(factory: any MetricsFactory, provider: String, store: String) {
        self.factory = factory
        self.provider = provider
        self.store = store
        isRecording = !(factory is NOOPMetricsHandler)
        let base = [("provider", provider)]
        cacheHits = Counter(label: "oauth_broker_cache_hits_total", dimensions: base, factory: factory)
        cacheMisses = Counter(label: "oauth_broker_cache_misses_total", dimensions: base, factory: factory)
        staleServed = Counter(label: "oauth_broker_stale_served_total", dimensions: base, factory: factory)
        singleFlightJoins = Counter(label: "oauth_broker_singleflight_joins_total", dimensions: base, factory: factory)
        leaseWaits = Counter(
            label: "oauth_broker_lease_waits_total", dimensions: base + [("store", store)], factory: factory)
        leaseWaitDuration = Timer(
            label: "oauth_broker_lease_wait_duration", dimensions: base + [("store", store)], factory: factory)
    }

    /// Counts a cache hit: one dynamic call into the metrics backend, or nothing with the no-op factory.
    @inline(__always)
    func recordCacheHit() {
        if isRecording { cacheHits.increment() }
    }

    func tokenRequest(flow: String, outcome: String, nanoseconds: Int64) {
        counter("oauth_broker_token_requests_total", [("provider", provider), ("flow", flow), ("outcome", outcome)])
            .increment()
        timer("oauth_broker_token_request_duration", [("provider", provider), ("flow", flow)])
            .recordNanoseconds(nanoseconds)
    }

    func refresh(outcome: String, nanoseconds: Int64) {
        timer("oauth_broker_refresh_duration", [("provider", provider), ("outcome", outcome)])
            .recordNanoseconds(nanoseconds)
    }

    func storeOperation(_ operation: String, nanoseconds: Int64, errorCode: String?) {
        timer("oauth_broker_store_operation_duration", [("store", store), ("operation", operation)])
            .recordNanoseconds(nanoseconds)
        if let errorCode {
            counter(
                "oauth_broker_store_errors_total", [("store", store), ("operation", operation), ("code", errorCode)]
            ).increment()
        }
    }

    func event(_ kind: String) {
        counter("oauth_broker_events_total", [("provider", provider), ("kind", kind)]).increment()
    }

    private func counter(_ label: String, _ dimensions: [(String, String)]) -> Counter {
        metric(label, dimensions) { Counter(label: $0, dimensions: $1, factory: self.factory) }
    }

    private func timer(_ label: String, _ dimensions: [(String, String)]) -> Timer {
        metric(label, dimensions) { Timer(label: $0, dimensions: $1, factory: self.factory) }
    }

    /// Returns the cached metric for label and dimension values, making it on first use.
    private func metric<M: AnyObject & Sendable>(
        _ label: String, _ dimensions: [(String, String)], make: (String, [(String, String)]) -> M
    ) -> M {
        let cacheKey = label + dimensions.map { "|\($0.1)" }.joined()
        return cached.withLock { cache in
            if let existing = cache[cacheKey] as? M { return existing }
            let made = make(label, dimensions)
            cache[cacheKey] = made
            return made
        }
    }
}
