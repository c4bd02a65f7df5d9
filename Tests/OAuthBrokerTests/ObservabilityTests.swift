import Foundation
import InMemoryTracing
import Logging
import MetricsTestKit
import OAuthBroker
import OAuthBrokerTesting
import Synchronization
import Testing

/// A log handler that keeps every rendered line.
final class CapturingLogHandler: LogHandler, @unchecked Sendable {
    // @unchecked: `lines` is a Mutex; metadata and level are only set before the handler is shared.
    let lines = Mutex<[String]>([])
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let merged = metadata.merging(event.metadata ?? [:]) { $1 }
        let rendered = merged.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        lines.withLock { $0.append("\(event.level) \(event.message) \(rendered)") }
    }
}

@Suite struct ObservabilityTests {
    static let secrets = ["at-1", "at-2", "rt-1", "rt-2", "rt-seed", "at-seed", "s3cr3t-client"]

    static func setUp(
        transport: FakeTransport = FakeTransport(), store: any BrokerStore = MemoryStore(),
        clock: TestClock = TestClock()
    ) -> (Broker<FakeTransport, PassthroughErrorMapper>, TestMetrics, InMemoryTracer, CapturingLogHandler) {
        let metrics = TestMetrics()
        let tracer = InMemoryTracer()
        let handler = CapturingLogHandler()
        var configuration = Fixtures.configuration(clock: clock)
        configuration.metricsFactory = metrics
        configuration.tracer = tracer
        let broker = try! Broker(
            provider: Fixtures.provider(), store: store, transport: transport, errorMapper: PassthroughErrorMapper(),
            configuration: configuration, logger: Logger(label: "test", factory: { _ in handler }))
        return (broker, metrics, tracer, handler)
    }

    @Test("cache hits, misses, single-flight joins and token requests are counted with low-cardinality labels")
    func countsAndLabels() async throws {
        let transport = FakeTransport(latency: .milliseconds(30))
        let (broker, metrics, _, _) = Self.setUp(transport: transport)
        let key = Fixtures.key()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<20 { group.addTask { _ = try await broker.accessToken(for: key) } }
            try await group.waitForAll()
        }
        for _ in 0..<5 { _ = try await broker.accessToken(for: key) }
        let provider = [("provider", "acme")]
        #expect(try metrics.expectCounter("oauth_broker_cache_misses_total", provider).totalValue == 20)
        #expect(try metrics.expectCounter("oauth_broker_cache_hits_total", provider).totalValue == 5)
        #expect(try metrics.expectCounter("oauth_broker_singleflight_joins_total", provider).totalValue == 19)
        let requests = try metrics.expectCounter(
            "oauth_broker_token_requests_total",
            [("provider", "acme"), ("flow", "client_credentials"), ("outcome", "success")])
        #expect(requests.totalValue == 1)
        let timer = try metrics.expectTimer(
            "oauth_broker_token_request_duration", [("provider", "acme"), ("flow", "client_credentials")])
        #expect(timer.values.count == 1)
        #expect(
            try metrics.expectTimer("oauth_broker_refresh_duration", [("provider", "acme"), ("outcome", "success")])
                .values.count == 1)
        #expect(
            try metrics.expectCounter("oauth_broker_events_total", [("provider", "acme"), ("kind", "issued")])
                .totalValue == 1)
        let storeTimers = metrics.timers.filter { $0.label == "oauth_broker_store_operation_duration" }
        let operations = Set(storeTimers.compactMap { timer in timer.dimensions.first { $0.0 == "operation" }?.1 })
        #expect(operations.isSuperset(of: ["record", "insert"]))
        // No label value anywhere is a tenant, principal or secret.
        let labelValues = (metrics.counters.flatMap(\.dimensions) + metrics.timers.flatMap(\.dimensions)).map(\.1)
        for value in labelValues {
            #expect(!["tenant-a", "user-1"].contains(value))
            #expect(!Self.secrets.contains { value.contains($0) })
        }
    }

    @Test func failuresAreCountedByCode() async throws {
        let transport = FakeTransport()
        transport.enqueue(.response(FakeTransport.oauthError("invalid_scope")))
        let (broker, metrics, tracer, _) = Self.setUp(transport: transport)
        await #expect(throws: BrokerError.providerRejected) { try await broker.accessToken(for: Fixtures.key()) }
        #expect(
            try metrics.expectCounter(
                "oauth_broker_token_requests_total",
                [("provider", "acme"), ("flow", "client_credentials"), ("outcome", "provider_rejected")]
            ).totalValue == 1)
        let span = try #require(tracer.finishedSpans.first { $0.operationName == "oauth.token_request" })
        #expect(span.attributes["oauth.error"]?.toSpanAttribute() == "provider_rejected")
        #expect(span.attributes["http.response.status_code"]?.toSpanAttribute() == 400)
    }

    @Test("each flow step gets a span with OAuth attributes and no secrets")
    func spans() async throws {
        let clock = TestClock()
        let store = MemoryStore()
        let key = Fixtures.key()
        try await Fixtures.seed(store, key: key, clock: clock, issuedAgo: .seconds(7200))
        let (broker, _, tracer, _) = Self.setUp(store: store, clock: clock)
        _ = try await broker.accessToken(for: key)
        let spans = tracer.finishedSpans
        let names = spans.map(\.operationName)
        #expect(names.contains("oauth.acquire"))
        #expect(names.contains("oauth.token_request"))
        let request = try #require(spans.first { $0.operationName == "oauth.token_request" })
        #expect(request.attributes["oauth.flow"]?.toSpanAttribute() == "refresh_token")
        #expect(request.attributes["oauth.provider"]?.toSpanAttribute() == "acme")
        #expect(request.attributes["oauth.attempts"]?.toSpanAttribute() == 1)
        #expect(request.kind == .client)
        let acquire = try #require(spans.first { $0.operationName == "oauth.acquire" })
        #expect(acquire.attributes["oauth.tenant"]?.toSpanAttribute() == "tenant-a")
        // The token request is a child of the acquisition.
        #expect(request.parentSpanID == acquire.spanID)
        for span in spans {
            span.attributes.forEach { name, value in
                let text = "\(value)"
                #expect(!Self.secrets.contains { text.contains($0) }, "span \(span.operationName) \(name) leaks")
            }
        }
    }

    @Test("log lines carry provider and key metadata but never a token")
    func logsHaveNoSecrets() async throws {
        let clock = TestClock()
        let store = MemoryStore()
        let key = Fixtures.key()
        try await Fixtures.seed(store, key: key, clock: clock, issuedAgo: .seconds(7200))
        let transport = FakeTransport()
        transport.enqueue(
            .failure(BrokerError(.connectionFailed, "refused")),
            .response(FakeTransport.oauthError("invalid_grant", description: "refresh token rt-seed is revoked")))
        let (broker, _, _, handler) = Self.setUp(transport: transport, store: store, clock: clock)
        await #expect(throws: BrokerError.invalidGrant) { try await broker.accessToken(for: key) }
        let lines = handler.lines.withLock { $0 }
        #expect(lines.contains { $0.contains("retrying token request") && $0.contains("oauth.provider=acme") })
        #expect(lines.contains { $0.contains("re-authorization required") })
        for line in lines {
            #expect(!Self.secrets.contains { line.contains($0) }, "log leaks: \(line)")
        }
    }
}
