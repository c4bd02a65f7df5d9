package import Foundation
import NIOSSL
public import OAuthBroker

/// A reusable conformance suite for ``OAuthBroker/TokenTransport`` implementations and their
/// ``OAuthBroker/TransportErrorMapper``s, run over real sockets on 127.0.0.1.
///
/// The checks cover the transport contract: requests arrive intact, every response comes back (3xx included, never
/// followed), interim 1xx headers are dropped, keep-alive reuse, 64 concurrent requests within the per-host limit,
/// cancellation (before and during a request), the body cap, header injection refused, shutdown, time-outs, a
/// refused connection, TLS (a test CA trusted, not trusted, a certificate for another name, a plain-HTTP peer), and
/// the broker's fault handling end to end against ``MockAuthorizationServer``. Each fault maps to the same
/// ``OAuthBroker/BrokerError/Code`` whatever the transport. Like ``StoreConformance`` it does not depend on a test
/// framework: a failed check throws ``TransportConformanceFailure``.
///
/// ```swift
/// @Test(arguments: TransportConformanceCheck.all)
/// func conformance(_ check: TransportConformanceCheck) async throws {
///     try await TransportConformance(
///         makeTransport: { settings in try MyTransport(settings) }, errorMapper: MyMapper(),
///         shutdown: { await $0.shutdown() }
///     ).run(check)
/// }
/// ```
public struct TransportConformance<Transport: TokenTransport, Mapper: TransportErrorMapper>: Sendable {
    /// What a check needs the transport to be configured with; `nil` leaves the transport's default.
    public struct Settings: Sendable {
        /// The time a request may take when it has no timeout of its own.
        public var requestTimeout: Duration?
        /// The largest response body accepted.
        public var maximumResponseBodyBytes: Int?
        /// The most connections to one host.
        public var maximumConnectionsPerHost: Int?
        /// The longest time establishing one connection may take.
        public var connectTimeout: Duration?
        /// The `User-Agent` sent.
        public var userAgent: String?
        /// A PEM file of CA certificates to trust instead of the system's.
        public var caBundlePath: String?

        /// Creates settings that leave every default.
        public init() {}
    }

    let makeTransport: @Sendable (Settings) throws -> Transport
    let errorMapper: Mapper
    let connectionsOpened: @Sendable (Transport) -> Int?
    let shutdown: @Sendable (Transport) async -> Void

    /// Creates a suite.
    /// - Parameters:
    ///   - makeTransport: Makes a new transport with `settings` applied. Called once or more per check.
    ///   - errorMapper: The transport's mapper.
    ///   - connectionsOpened: The connections the transport has opened so far, or `nil` when it cannot tell (then
    ///     reuse is checked on the server side only).
    ///   - shutdown: Shuts the transport down: requests in flight and later ones must fail with an error the
    ///     mapper maps to ``OAuthBroker/BrokerError/Code/cancelled``.
    public init(
        makeTransport: @escaping @Sendable (Settings) throws -> Transport, errorMapper: Mapper,
        connectionsOpened: @escaping @Sendable (Transport) -> Int? = { _ in nil },
        shutdown: @escaping @Sendable (Transport) async -> Void
    ) {
        self.makeTransport = makeTransport
        self.errorMapper = errorMapper
        self.connectionsOpened = connectionsOpened
        self.shutdown = shutdown
    }

    /// Runs one check.
    /// - Parameter check: The check, from ``TransportConformanceCheck/all``.
    /// - Throws: ``TransportConformanceFailure`` naming the check and what went wrong.
    public func run(_ check: TransportConformanceCheck) async throws {
        do {
            try await body(of: check)
        } catch let mismatch as Mismatch {
            throw TransportConformanceFailure(check: check.name, message: mismatch.message, line: mismatch.line)
        } catch let failure as TransportConformanceFailure {
            throw failure
        } catch {
            throw TransportConformanceFailure(
                check: check.name, message: "unexpected error: \(String(reflecting: error))", line: #line)
        }
    }

    /// Runs every check, one after another, and reports all failures together.
    public func run() async throws {
        var failures: [TransportConformanceFailure] = []
        for check in TransportConformanceCheck.all {
            do { try await run(check) } catch let failure as TransportConformanceFailure { failures.append(failure) }
        }
        guard !failures.isEmpty else { return }
        throw TransportConformanceFailure(
            check: failures.map(\.check).joined(separator: ", "),
            message: failures.map(\.description).joined(separator: "\n"), line: failures[0].line)
    }

    // MARK: - Helpers for the checks

    /// Starts a loopback server and a transport, runs `body`, and stops both whatever happens.
    func withServerAndTransport(
        _ settings: Settings = Settings(), tls: TLSServer? = nil,
        handler: @escaping LoopbackHTTPServer.Handler,
        _ body: (LoopbackHTTPServer, Transport) async throws -> Void
    ) async throws {
        let server = try await LoopbackHTTPServer.start(tls: try tls?.context(), handler: handler)
        let transport: Transport
        do { transport = try makeTransport(settings) } catch {
            await server.shutdown()
            throw error
        }
        do {
            try await body(server, transport)
        } catch {
            await shutdown(transport)
            await server.shutdown()
            throw error
        }
        await shutdown(transport)
        await server.shutdown()
    }

    /// The mapper's code for what the transport threw.
    func mappedCode(_ error: (any Error)?, for request: TransportRequest) -> BrokerError.Code? {
        error.map { errorMapper.mapTransportError($0, for: request).code }
    }

    /// Checks reuse on the transport's own counter, where it has one.
    func expectConnectionsOpened(
        _ transport: Transport, _ condition: (Int) -> Bool, _ message: String, line: Int = #line
    ) throws {
        guard let opened = connectionsOpened(transport) else { return }
        try expect(condition(opened), "\(message) (connections opened: \(opened))", line: line)
    }
}

/// A server certificate for the TLS checks.
struct TLSServer: Sendable {
    let authority: TestCertificateAuthority
    let dnsNames: [String]
    let ipAddresses: [String]

    func context() throws -> NIOSSLContext {
        try authority.serverContext(dnsNames: dnsNames, ipAddresses: ipAddresses)
    }
}

/// A form POST to `url`.
package func formPost(_ url: URL, body: String = "grant_type=client_credentials", timeout: Duration? = nil)
    -> TransportRequest
{
    TransportRequest(
        method: "POST", url: url, headers: ["Content-Type": "application/x-www-form-urlencoded"],
        body: Data(body.utf8), timeout: timeout)
}

/// What `operation` threw, or `nil` when it returned.
package func thrownError(_ operation: () async throws -> Void) async -> (any Error)? {
    do {
        try await operation()
        return nil
    } catch {
        return error
    }
}

/// Polls `condition` (bounded: at most ~10 s), sleeping 5 ms between polls.
func eventually(_ condition: () async throws -> Bool) async rethrows -> Bool {
    for _ in 0..<2000 {
        if try await condition() { return true }
        try? await Task.sleep(for: .milliseconds(5))
    }
    return false
}

/// One named check of ``TransportConformance``.
public struct TransportConformanceCheck: Sendable, Hashable, CustomStringConvertible {
    /// The check's name, for example `"a 302 is returned, not followed"`.
    public let name: String

    init(_ name: String) { self.name = name }

    /// The name.
    public var description: String { name }

    /// The check called `name`, or `nil`.
    /// - Parameter name: A check name from ``all``.
    /// - Returns: The check.
    public static func named(_ name: String) -> TransportConformanceCheck? { all.first { $0.name == name } }

    /// Every check, in a stable order.
    public static let all: [TransportConformanceCheck] = TransportCheckName.allCases.map {
        TransportConformanceCheck($0.rawValue)
    }
}

/// The checks' names; the body of each is in `TransportConformance+Checks.swift`.
enum TransportCheckName: String, CaseIterable {
    case postArrivesIntact = "a form POST arrives with its method, path, headers and exact body"
    case userAgentAndGet = "a configured User-Agent is sent, and a GET carries no body"
    case responseReturned = "status, every header field and the body of the response come back"
    case retryAfter = "Retry-After of a 429 is available to the broker"
    case interimHeadersDropped = "headers of an interim 1xx response are not mixed into the final one's"
    case connectionReuse = "sequential requests reuse one keep-alive connection"
    case concurrentRequests = "64 concurrent requests all succeed, within the per-host connection limit"
    case queuedRequestWaitsForItsDeadline =
        "a request queued behind the per-host limit waits until its own deadline, not the connect timeout"
    case cancellationMidRequest = "cancelling the task abandons the request promptly; the transport keeps working"
    case cancelledBeforeSending = "an already-cancelled task throws CancellationError without sending"
    case redirectNotFollowed = "a 302 is returned as the response and its Location is not followed"
    case oversizedBody = "a body over the limit is refused (.responseTooLarge), with Content-Length"
    case oversizedChunkedBody = "a chunked body over the limit is refused (.responseTooLarge)"
    case headerInjectionRefused = "a header value with a line break or a bad method is refused before sending"
    case shutdownFailsRequests = "shutdown fails the request in flight and every later one (.cancelled)"
    case timeout = "a server that never answers times out (.timedOut), by request or by configuration"
    case connectionRefused = "a closed port is .connectionFailed, naming the host but not the path"
    case tlsToPlainServer = "a TLS handshake with a plain-HTTP server is .tlsFailure"
    case tlsTrustedCA = "HTTPS to a server whose certificate a trusted test CA issued succeeds"
    case tlsUntrustedCA = "HTTPS to a server whose CA is not trusted is .tlsFailure"
    case tlsWrongName = "HTTPS to a server whose certificate names another host is .tlsFailure"
    case brokerReusesConnection = "broker: sequential token requests reuse one TCP connection"
    case brokerRetryAfter = "broker: a 429 with Retry-After is waited out, then the 200 is used"
    case brokerRedirectRefused = "broker: a redirecting token endpoint fails with .redirectRefused after one request"
    case brokerFaults = "broker: server faults become typed errors and leave the store untouched"
    case brokerConnectionRefused = "broker: a closed port is a transient .connectionFailed"
    case brokerTimeout = "broker: an unanswered token request fails with .timedOut after the configured attempts"
    case brokerCancellation = "broker: cancelling a caller mid-request leaves the shared request running"
}

/// A failed ``TransportConformance`` check: which one, and what the transport did wrong. Never contains a token.
public struct TransportConformanceFailure: Error, Sendable, CustomStringConvertible {
    /// The name of the failed check (or several names, joined, from ``TransportConformance/run()``).
    public let check: String
    /// What went wrong.
    public let message: String
    /// The line of the suite's source that detected it.
    public let line: Int

    /// `transport conformance check '<check>' failed: <message>`.
    public var description: String { "transport conformance check '\(check)' failed: \(message) (line \(line))" }
}
