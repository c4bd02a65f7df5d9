import OAuthBroker

/// One place in the pool: an actor owning at most one ``RedisConnection``, on its own serial Dispatch queue.
///
/// The actor's executor is a ``OAuthBroker/DispatchQueueExecutor``, so its methods (and every blocking hiredis
/// call they make) run on a Dispatch worker, never on Swift's cooperative pool; actor isolation is the connection's
/// confinement. The slot connects lazily, checks a reused connection's health before each operation, and drops a
/// connection that failed, so the next operation reconnects: a dead connection is replaced, and the store
/// recovers by itself when the server comes back.
actor RedisConnectionSlot {
    private let executor: DispatchQueueExecutor
    private let configuration: RedisStore.Configuration
    private var connection: RedisConnection?
    /// How many connections this slot has opened (for tests and diagnostics).
    private(set) var connectionsOpened = 0

    nonisolated var unownedExecutor: UnownedSerialExecutor { executor.asUnownedSerialExecutor() }

    init(configuration: RedisStore.Configuration, index: Int) {
        self.configuration = configuration
        self.executor = DispatchQueueExecutor(label: "oauth-broker.redis.\(index)")
    }

    /// Runs `body` with a healthy connection, connecting first if needed.
    ///
    /// - Throws: ``BrokerError``: ``BrokerError/Code/storeUnavailable`` when connecting fails or the connection
    ///   breaks during `body` (the connection is then dropped); whatever `body` throws otherwise.
    func run<T: Sendable>(_ body: @Sendable (RedisConnection) throws -> T) throws -> T {
        let active: RedisConnection
        if let connection, connection.isHealthy {
            active = connection
        } else {
            connection = nil
            active = try RedisConnection(configuration: configuration)
            connection = active
            connectionsOpened += 1
        }
        do {
            return try body(active)
        } catch let lost as RedisConnectionLost {
            connection = nil
            throw BrokerError(
                .storeUnavailable, "Redis at \(configuration.host):\(configuration.port): \(lost.message)")
        }
    }

    /// Closes the connection, if any.
    func close() {
        connection = nil
    }
}
