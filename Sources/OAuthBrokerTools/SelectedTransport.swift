public import Logging
public import OAuthBroker
import OAuthBrokerAsyncHTTPClient
import OAuthBrokerCurl

/// The HTTP client an executable talks to the provider through: `curl` (libcurl, the default) or `ahc`
/// (AsyncHTTPClient on SwiftNIO).
public enum TransportChoice: String, Sendable, CaseIterable, CustomStringConvertible {
    /// `CurlTransport`.
    case curl
    /// `AsyncHTTPClientTransport` owning its client.
    case ahc

    /// The name as typed after `--transport`.
    public var description: String { rawValue }

    /// What the transport is, for a debug log line: `curl (libcurl/7.88.1)`, `ahc (AsyncHTTPClient)`.
    public var detail: String {
        switch self {
        case .curl: "curl (\(CurlTransport.libcurlVersion.split(separator: " ").first.map(String.init) ?? "libcurl"))"
        case .ahc: "ahc (AsyncHTTPClient)"
        }
    }

    /// Makes the chosen transport.
    /// - Parameters:
    ///   - connections: Room for this many parallel connections to the provider; `nil` keeps the default.
    ///   - logger: Where the transport logs; `nil` logs nothing.
    /// - Throws: ``OAuthBroker/BrokerError`` (``OAuthBroker/BrokerError/Code/invalidConfiguration``).
    public func makeTransport(connections: Int? = nil, logger: Logger? = nil) throws -> SelectedTransport {
        switch self {
        case .curl:
            var configuration = CurlTransport.Configuration()
            if let connections {
                configuration.maximumConnectionsPerHost = max(connections, 1)
                configuration.maximumConnections = max(connections, 64)
                configuration.maximumIdleHandles = max(connections, 16)
            }
            return SelectedTransport(.curl(try CurlTransport(configuration: configuration, logger: logger)))
        case .ahc:
            var configuration = AsyncHTTPClientTransport.Configuration()
            if let connections { configuration.maximumConnectionsPerHost = max(connections, 1) }
            return SelectedTransport(.ahc(try AsyncHTTPClientTransport(configuration: configuration, logger: logger)))
        }
    }

    /// Makes a broker over the chosen transport and its error mapper, and logs the choice at `.debug`.
    /// - Parameters:
    ///   - provider: The provider registration.
    ///   - store: Where tokens live.
    ///   - configuration: The broker's behaviour; validated here.
    ///   - connections: Room for this many parallel connections; `nil` keeps the transport's default.
    ///   - logger: Where the broker and the transport log (never a secret); `nil` logs nothing.
    /// - Returns: The broker.
    /// - Throws: ``OAuthBroker/BrokerError`` (``OAuthBroker/BrokerError/Code/invalidConfiguration``).
    public func makeBroker(
        provider: ProviderDescriptor, store: some BrokerStore, configuration: BrokerConfiguration = .init(),
        connections: Int? = nil, logger: Logger? = nil
    ) throws -> Broker<SelectedTransport, SelectedTransportErrorMapper> {
        try configuration.validate()
        let transport = try makeTransport(connections: connections, logger: logger)
        logger?.debug(
            "transport \(detail)",
            metadata: ["oauth.transport": "\(rawValue)", "oauth.transport.detail": "\(detail)"])
        return try Broker(
            provider: provider, store: store, transport: transport,
            errorMapper: SelectedTransportErrorMapper(choice: self), configuration: configuration, logger: logger)
    }
}

/// A transport chosen at run time (``TransportChoice``): one of the package's transports behind one type, so an
/// executable's broker has one type whatever its `--transport`.
public final class SelectedTransport: TokenTransport {
    enum Backing: Sendable {
        case curl(CurlTransport)
        case ahc(AsyncHTTPClientTransport)
    }
    let backing: Backing

    init(_ backing: Backing) { self.backing = backing }

    /// Which transport this is.
    public var choice: TransportChoice {
        switch backing {
        case .curl: .curl
        case .ahc: .ahc
        }
    }

    /// Sends through the chosen transport.
    /// - Parameter request: The request.
    /// - Returns: The response.
    /// - Throws: What the chosen transport throws; map it with ``SelectedTransportErrorMapper``.
    public func send(_ request: TransportRequest) async throws -> TransportResponse {
        switch backing {
        case .curl(let transport): try await transport.send(request)
        case .ahc(let transport): try await transport.send(request)
        }
    }

    /// The connections the transport has opened so far.
    public var connectionsOpened: Int {
        switch backing {
        case .curl(let transport): transport.connectionsOpened
        case .ahc(let transport): transport.connectionsOpened ?? 0
        }
    }

    /// Shuts the transport down (see each transport's `shutdown()`).
    public func shutdown() async {
        switch backing {
        case .curl(let transport): transport.shutdown()
        case .ahc(let transport): try? await transport.shutdown()
        }
    }
}

/// The error mapper of a ``SelectedTransport``: the chosen transport's own.
public struct SelectedTransportErrorMapper: TransportErrorMapper {
    /// The transport whose errors are mapped.
    public let choice: TransportChoice

    /// Creates the mapper for `choice`.
    public init(choice: TransportChoice) { self.choice = choice }

    /// Maps with `CurlErrorMapper` or `AsyncHTTPClientErrorMapper`.
    /// - Parameters:
    ///   - error: What the transport threw.
    ///   - request: The request that failed.
    /// - Returns: The typed error.
    public func mapTransportError(_ error: any Error, for request: TransportRequest) -> BrokerError {
        switch choice {
        case .curl: CurlErrorMapper().mapTransportError(error, for: request)
        case .ahc: AsyncHTTPClientErrorMapper().mapTransportError(error, for: request)
        }
    }
}
