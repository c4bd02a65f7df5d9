public import Logging
public import OAuthBroker

extension Broker where Transport == CurlTransport, Mapper == CurlErrorMapper {
    /// Creates a broker that talks to its provider through a new ``CurlTransport`` and maps its failures with
    /// ``CurlErrorMapper``.
    ///
    /// ```swift
    /// let broker = try Broker(provider: provider, store: MemoryStore())
    /// ```
    ///
    /// The transport is reachable as ``OAuthBroker/Broker/transport``; it shuts down when the broker (its last
    /// owner) is deinitialised, or earlier with ``CurlTransport/shutdown()``.
    ///
    /// - Parameters:
    ///   - provider: The provider registration.
    ///   - store: Where tokens live.
    ///   - configuration: The broker's behaviour; validated here.
    ///   - logger: Where the broker and the transport log (never tokens). By default nothing is logged.
    ///   - transportConfiguration: Timeouts, limits and TLS settings of the transport; validated here.
    /// - Throws: ``OAuthBroker/BrokerError`` (``OAuthBroker/BrokerError/Code/invalidConfiguration``) for an invalid
    ///   configuration.
    public convenience init(
        provider: ProviderDescriptor,
        store: some BrokerStore,
        configuration: BrokerConfiguration = BrokerConfiguration(),
        logger: Logger? = nil,
        transportConfiguration: CurlTransport.Configuration = CurlTransport.Configuration()
    ) throws {
        try configuration.validate()
        let transport = try CurlTransport(configuration: transportConfiguration, logger: logger)
        try self.init(
            provider: provider, store: store, transport: transport, errorMapper: CurlErrorMapper(),
            configuration: configuration, logger: logger)
    }
}
