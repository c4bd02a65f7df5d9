import Foundation
import OAuthBroker

extension CurlTransport {
    /// How a ``CurlTransport`` connects, times out, verifies TLS and limits responses.
    ///
    /// A `Sendable` struct of settings with defaults. ``CurlTransport/init(configuration:logger:)`` validates it.
    ///
    /// Fixed by design, not configurable: only `http` and `https` are used (for requests and redirects),
    /// redirects are never followed (a 3xx is returned as a response, which the broker refuses), and proxies come
    /// only from ``proxyURL``, never from the `http_proxy`/`https_proxy` environment variables.
    public struct Configuration: Sendable {
        /// The longest time establishing a connection (TCP and TLS) may take. Default 5 s.
        public var connectTimeout: Duration = .seconds(5)
        /// The longest time a whole request may take when its ``TransportRequest/timeout`` is `nil`. Default 10 s.
        public var requestTimeout: Duration = .seconds(10)
        /// The largest response body accepted; a larger one fails the request (``BrokerError/Code/responseTooLarge``
        /// through ``CurlErrorMapper``). Default 1 MiB.
        public var maximumResponseBodyBytes: Int = 1 << 20
        /// The most connections open to one host at a time; further requests to it wait. Default 8.
        public var maximumConnectionsPerHost: Int = 8
        /// The most connections open at a time, to all hosts; also the size of the keep-alive cache. Default 64.
        public var maximumConnections: Int = 64
        /// The most idle easy handles kept for reuse; extra handles are freed when their transfer ends. Default 16.
        public var maximumIdleHandles: Int = 16
        /// A PEM file of CA certificates to trust instead of the system bundle.
        public var caBundlePath: String?
        /// A directory of hashed CA certificates to trust instead of the system one.
        public var caDirectoryPath: String?
        /// A PEM client certificate for mutual TLS.
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
        /// The `User-Agent` header. Default `swift-oauth-broker/<version>`.
        public var userAgent: String = Self.defaultUserAgent
        /// An explicit proxy (`http://host:port`); `nil`, the default, connects directly and ignores proxy
        /// environment variables.
        public var proxyURL: String?

        /// `swift-oauth-broker/<version>`, the default ``userAgent``.
        public static let defaultUserAgent = "swift-oauth-broker/\(swiftOAuthBrokerVersion)"

        /// Creates the default configuration.
        public init() {}

        /// Checks every value.
        /// - Throws: ``BrokerError`` (``BrokerError/Code/invalidConfiguration``) naming the first bad setting.
        public func validate() throws {
            func require(_ condition: Bool, _ message: String) throws {
                if !condition { throw BrokerError(.invalidConfiguration, "CurlTransport: \(message)") }
            }
            try require(connectTimeout > .zero, "connectTimeout must be positive")
            try require(requestTimeout > .zero, "requestTimeout must be positive")
            try require(maximumResponseBodyBytes > 0, "maximumResponseBodyBytes must be positive")
            try require(maximumConnectionsPerHost >= 1, "maximumConnectionsPerHost must be at least 1")
            try require(
                maximumConnections >= maximumConnectionsPerHost,
                "maximumConnections must be ≥ maximumConnectionsPerHost")
            try require(maximumIdleHandles >= 0, "maximumIdleHandles must not be negative")
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
            if let caDirectoryPath {
                var isDirectory: ObjCBool = false
                try require(
                    FileManager.default.fileExists(atPath: caDirectoryPath, isDirectory: &isDirectory)
                        && isDirectory.boolValue,
                    "caDirectoryPath is not a directory")
            }
            try require(
                clientKeyPath == nil || clientCertificatePath != nil, "clientKeyPath needs clientCertificatePath")
            if let proxyURL {
                let scheme = URL(string: proxyURL)?.scheme?.lowercased()
                try require(scheme == "http" || scheme == "https", "proxyURL must be an http or https URL")
            }
        }
    }
}

extension Duration {
    /// Whole milliseconds, rounded up, at least 1 and at most `Int.max / 2` (libcurl takes a `long`).
    var curlMilliseconds: Int {
        let (seconds, attoseconds) = components
        if seconds >= Int64(Int.max / 2_000) { return Int.max / 2 }
        let milliseconds = seconds * 1_000 + (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000
        return Int(max(1, milliseconds))
    }
}
