import Foundation
import OAuthBroker

extension AsyncHTTPClientTransport {
    /// How an ``AsyncHTTPClientTransport`` times out, limits responses and verifies TLS.
    ///
    /// A `Sendable` struct of settings with defaults, the same names and defaults as `CurlTransport.Configuration`
    /// where the two transports share a setting. ``AsyncHTTPClientTransport/init(configuration:logger:)``
    /// validates it. With ``AsyncHTTPClientTransport/init(wrappingClientWithRedirectsDisabled:configuration:logger:)``
    /// only the per-request settings apply (``requestTimeout``, ``maximumResponseBodyBytes``, ``userAgent``); the
    /// caller's client keeps its own connection, TLS and timeout settings.
    ///
    /// Fixed by design, not configurable: redirects are never followed (a 3xx is returned as a response, which the
    /// broker refuses), responses are not decompressed, proxies are not used, and a failed connection attempt fails
    /// the request at once (the broker does its own retries, with backoff, for a connection that was refused).
    public struct Configuration: Sendable {
        /// The longest time establishing a connection (TCP and TLS) may take. Default 5 s.
        ///
        /// AsyncHTTPClient uses one timeout both for establishing a connection and for waiting in its pool for a
        /// free one, so the transport gives it the larger of this and ``requestTimeout``: a request queued behind
        /// ``maximumConnectionsPerHost`` busy connections then waits until its own deadline, as with curl, and a
        /// connection attempt is bounded by the request's deadline rather than by this value alone.
        public var connectTimeout: Duration = .seconds(5)
        /// The longest time a whole request (connection, request, response head and body) may take when its
        /// ``OAuthBroker/TransportRequest/timeout`` is `nil`. Default 10 s.
        public var requestTimeout: Duration = .seconds(10)
        /// The largest response body accepted; a larger one fails the request
        /// (``OAuthBroker/BrokerError/Code/responseTooLarge`` through ``AsyncHTTPClientErrorMapper``). Default 1 MiB.
        public var maximumResponseBodyBytes: Int = 1 << 20
        /// The most HTTP/1.1 connections kept open to one host; further requests to it wait. Default 8.
        public var maximumConnectionsPerHost: Int = 8
        /// How long an idle keep-alive connection stays open for reuse. Default 60 s.
        public var idleConnectionTimeout: Duration = .seconds(60)
        /// A PEM file of CA certificates to trust instead of the system's.
        public var caBundlePath: String?
        /// A PEM client certificate (chain) for mutual TLS.
        public var clientCertificatePath: String?
        /// The PEM private key of ``clientCertificatePath`` (when the key is not in the certificate file).
        public var clientKeyPath: String?
        /// Whether the server's certificate chain is verified. Default `true`.
        ///
        /// - Important: Turning verification off lets anyone on the network read and forge token responses. Use it
        ///   only against a local test server.
        public var verifiesPeer: Bool = true
        /// Whether the server's certificate must name the host connected to. Default `true`.
        ///
        /// - Important: Like ``verifiesPeer``, turn this off only for a local test server.
        public var verifiesHost: Bool = true
        /// The `User-Agent` header, sent unless the request has one. Default `swift-oauth-broker/<version>`.
        public var userAgent: String = Self.defaultUserAgent

        /// `swift-oauth-broker/<version>`, the default ``userAgent`` (the same as the curl transport's).
        public static let defaultUserAgent = "swift-oauth-broker/0.1.0"

        /// Creates the default configuration.
        public init() {}

        /// Checks every value.
        /// - Throws: ``OAuthBroker/BrokerError`` (``OAuthBroker/BrokerError/Code/invalidConfiguration``) naming the
        ///   first bad setting.
        public func validate() throws {
            func require(_ condition: Bool, _ message: String) throws {
                if !condition { throw BrokerError(.invalidConfiguration, "AsyncHTTPClientTransport: \(message)") }
            }
            try require(connectTimeout > .zero, "connectTimeout must be positive")
            try require(requestTimeout > .zero, "requestTimeout must be positive")
            try require(idleConnectionTimeout > .zero, "idleConnectionTimeout must be positive")
            try require(maximumResponseBodyBytes > 0, "maximumResponseBodyBytes must be positive")
            try require(maximumConnectionsPerHost >= 1, "maximumConnectionsPerHost must be at least 1")
            try require(
                !userAgent.unicodeScalars.contains { $0.properties.generalCategory == .control },
                "userAgent must not contain control characters")
            for (name, path) in [
                ("caBundlePath", caBundlePath), ("clientCertificatePath", clientCertificatePath),
                ("clientKeyPath", clientKeyPath),
            ] {
                guard let path else { continue }
                try require(FileManager.default.isReadableFile(atPath: path), "\(name) is not a readable file")
            }
            try require(
                clientKeyPath == nil || clientCertificatePath != nil, "clientKeyPath needs clientCertificatePath")
        }
    }
}

extension Duration {
    /// Whole nanoseconds, saturating (NIO's `TimeAmount` holds an `Int64` of nanoseconds).
    var nanosecondsClamped: Int64 {
        let (seconds, attoseconds) = components
        if seconds >= Int64.max / 1_000_000_000 { return Int64.max }
        if seconds < 0 { return 0 }
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
