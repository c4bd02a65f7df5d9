public import ServiceLifecycle

extension PostgresStore: Service {
    /// Runs until graceful shutdown (or cancellation) of the surrounding `ServiceGroup`, then closes an owned
    /// client with ``shutdown()``. The owned client already runs from the initialiser on: this only ties its end to
    /// the group's. For the application's client it only waits: the application runs and closes that client.
    public func run() async throws {
        try? await gracefulShutdown()
        await shutdown()
    }
}
