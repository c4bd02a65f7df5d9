import Foundation
import Logging
import Synchronization

/// Delivers ``BrokerEvent``s: to ``BrokerConfiguration/onEvent``, to every ``Broker/events()`` subscriber, to the
/// event counter, and to the debug log. Events carry no secret.
final class EventHub: Sendable {
    private let subscribers = Mutex<(next: Int, continuations: [Int: AsyncStream<BrokerEvent>.Continuation])>(
        (0, [:]))
    private let onEvent: (@Sendable (BrokerEvent) -> Void)?
    private let clock: BrokerClock
    private let metrics: BrokerMetrics
    private let logger: Logger
    private let provider: ProviderID

    init(configuration: BrokerConfiguration, metrics: BrokerMetrics, logger: Logger, provider: ProviderID) {
        self.onEvent = configuration.onEvent
        self.clock = configuration.clock
        self.metrics = metrics
        self.logger = logger
        self.provider = provider
    }

    /// A new subscription; see ``Broker/events()``.
    func subscribe() -> AsyncStream<BrokerEvent> {
        let (stream, continuation) = AsyncStream.makeStream(
            of: BrokerEvent.self, bufferingPolicy: .bufferingNewest(1024))
        let id = subscribers.withLock { state -> Int in
            state.next += 1
            state.continuations[state.next] = continuation
            return state.next
        }
        continuation.onTermination = { [weak self] _ in
            _ = self?.subscribers.withLock { $0.continuations.removeValue(forKey: id) }
        }
        return stream
    }

    func emit(
        _ kind: BrokerEvent.Kind, key: StoreKey, grant: ProviderDescriptor.Grant?, record: TokenRecord?,
        rotated: Bool = false
    ) {
        let event = BrokerEvent(
            kind: kind, key: key, grant: grant, version: record?.version, rotated: rotated, date: clock.now())
        logger.debug(
            "oauth event", metadata: ["oauth.event": "\(kind)", "oauth.key": "\(key)", "oauth.provider": "\(provider)"])
        metrics.event(kind.description)
        onEvent?(event)
        let continuations = subscribers.withLock { Array($0.continuations.values) }
        for continuation in continuations { continuation.yield(event) }
    }
}
