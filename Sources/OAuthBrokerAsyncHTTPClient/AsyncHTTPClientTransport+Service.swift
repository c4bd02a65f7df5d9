public import ServiceLifecycle

extension AsyncHTTPClientTransport: Service {
    /// Runs until graceful shutdown (or cancellation) of the surrounding `ServiceGroup`, then calls
    /// ``shutdown()``: an owned client is shut down (requests in flight fail with
    /// ``AsyncHTTPClientError/Kind/shutDown``, mapped to ``OAuthBroker/BrokerError/Code/cancelled``), a wrapped one
    /// is left to its owner; later requests are refused.
    ///
    /// ```swift
    /// let transport = try AsyncHTTPClientTransport()
    /// let group = ServiceGroup(services: [transport, myServer], logger: logger)
    /// try await group.run()
    /// ```
    public func run() async throws {
        try? await gracefulShutdown()
        try await shutdown()
    }
}
