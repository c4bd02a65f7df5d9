public import ServiceLifecycle

extension RedisStore: Service {
    /// Runs until graceful shutdown (or cancellation) of the surrounding `ServiceGroup`, then closes every pooled
    /// connection with ``shutdown()``.
    public func run() async throws {
        try? await gracefulShutdown()
        await shutdown()
    }
}
