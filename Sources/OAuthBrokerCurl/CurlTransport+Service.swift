public import ServiceLifecycle

extension CurlTransport: Service {
    /// Runs until graceful shutdown (or cancellation) of the surrounding `ServiceGroup`, then stops the driver
    /// thread with ``shutdown()``: requests in flight fail with ``BrokerError/Code/cancelled`` and later ones are
    /// refused.
    ///
    /// Add the transport to the application's `ServiceGroup` so it stops with the application:
    /// ```swift
    /// let transport = try CurlTransport()
    /// let group = ServiceGroup(services: [transport, myServer], logger: logger)
    /// try await group.run()
    /// ```
    public func run() async throws {
        try? await gracefulShutdown()
        shutdown()
    }
}
