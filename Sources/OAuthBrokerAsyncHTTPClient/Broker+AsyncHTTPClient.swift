public import Logging
public import OAuthBroker

extension Broker where Transport == AsyncHTTPClientTransport, Mapper == AsyncHTTPClientErrorMapper {
    /// Creates a broker that talks to its provider through a new ``AsyncHTTPClientTransport`` (which owns its
    /// `HTTPClient`) and maps its failures with ``AsyncHTTPClientErrorMapper``.
    ///
    /// ```swift
    /// let broker = try Broker(provider: provider, store: MemoryStore(), asyncHTTPClientConfiguration: .init())
    /// ```
    ///
    /// The transport is reachable as ``OAuthBroker/Broker/transport``; its client shuts down when the broker (its
    /// last owner) is deinitialised, or earlier with ``AsyncHTTPClientTransport/shutdown()``.
    ///
    /// - Parameters:
    ///   - provider: The provider registration.
    ///   - store: Where tokens live.
    ///   - configuration: The broker's behaviour; validated here.
    ///   - logger: Where the broker and the transport log (never tokens). By default nothing is logged.
    ///   - asyncHTTPClientConfiguration: Timeouts, limits and TLS settings of the transport; validated here.
    /// - Throws: ``OAuthBroker/BrokerError`` (``OAuthBroker/BrokerError/Code/invalidConfiguration``) for an invalid
    ///   configuration.
    public convenience init(
        provider: ProviderDescriptor,
        store: some BrokerStore,
        configuration: BrokerConfiguration = BrokerConfiguration(),
        logger: Logger? = nil,
        asyncHTTPClientConfiguration: AsyncHTTPClientTransport.Configuration
    ) throws {
        try configuration.validate()
        let transport = try AsyncHTTPClientTransport(configuration: asyncHTTPClientConfiguration, logger: logger)
        try self.init(
            provider: provider, store: store, transport: transport, errorMapper: AsyncHTTPClientErrorMapper(),
            configuration: configuration, logger: logger)
    }
}
