import AsyncHTTPClient
import NIOCore
import NIOPosix
import NIOSSL

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

extension AsyncHTTPClientError {
    /// Classifies what AsyncHTTPClient, SwiftNIO or NIOSSL threw.
    ///
    /// Only failures that happen before a request can have been sent become ``Kind/connectionFailed`` or
    /// ``Kind/dnsFailure`` (the broker retries those even for one-time grants); a reset or closed connection is
    /// ``Kind/transportFailed``.
    /// - Parameters:
    ///   - error: The error.
    ///   - host: The request's host, for the message.
    /// - Returns: The typed error.
    static func classify(_ error: any Error, host: String) -> AsyncHTTPClientError {
        if let error = error as? AsyncHTTPClientError { return error }
        let (kind, what) = kindAndSummary(of: error)
        return AsyncHTTPClientError(kind, message: "request to \(host) failed: \(what)")
    }

    private static func kindAndSummary(of error: any Error) -> (Kind, String) {
        switch error {
        case is NIOTooManyBytesError:
            return (.responseTooLarge, "the response body is over the limit")
        case let error as HTTPClientError:
            return (kind(of: error), error.shortDescription)
        case let error as NIOConnectionError:
            // No address to connect to: resolution failed (or returned nothing).
            if error.connectionErrors.isEmpty { return (.dnsFailure, "the host name could not be resolved") }
            let kinds = error.connectionErrors.map { kindAndSummary(of: $0.error).0 }
            if kinds.allSatisfy({ $0 == .timedOut }) { return (.timedOut, "connecting timed out") }
            return (.connectionFailed, "no connection could be made")
        case let error as IOError:
            switch error.errnoCode {
            case ECONNREFUSED, ENETUNREACH, EHOSTUNREACH, EADDRNOTAVAIL:
                return (.connectionFailed, "connect: errno \(error.errnoCode)")
            case ETIMEDOUT:
                return (.timedOut, "errno \(error.errnoCode)")
            default:
                return (.transportFailed, "I/O error, errno \(error.errnoCode)")
            }
        case let error as ChannelError:
            if case .connectTimeout = error { return (.timedOut, "connecting timed out") }
            return (.transportFailed, "channel error")
        case is SocketAddressError:
            return (.dnsFailure, "the host name could not be resolved")
        case let error as NIOSSLError:
            if case .uncleanShutdown = error { return (.transportFailed, "the TLS connection was closed uncleanly") }
            return (.tlsFailure, "TLS: \(tlsSummary(error))")
        case is NIOSSLExtraError:
            return (.tlsFailure, "TLS: the certificate does not match the host")
        case is BoringSSLError:
            return (.tlsFailure, "TLS handshake failed")
        default:
            return (.transportFailed, "\(type(of: error))")
        }
    }

    private static func kind(of error: HTTPClientError) -> Kind {
        switch error {
        case .connectTimeout, .readTimeout, .writeTimeout, .deadlineExceeded, .tlsHandshakeTimeout,
            .getConnectionFromPoolTimeout, .socksHandshakeTimeout, .httpProxyHandshakeTimeout:
            return .timedOut
        case .alreadyShutdown:
            return .shutDown
        case .invalidURL, .emptyHost, .emptyScheme:
            return .unsupportedURL
        default:
            return error.shortDescription == HTTPClientError.unsupportedScheme("").shortDescription
                ? .unsupportedURL : .transportFailed
        }
    }

    /// The case name of a NIOSSL error without its associated values (which can be long).
    private static func tlsSummary(_ error: NIOSSLError) -> String {
        switch error {
        case .handshakeFailed: return "handshake failed (certificate not trusted, or the peer does not speak TLS)"
        case .unableToValidateCertificate: return "the certificate could not be validated"
        default: return "error"
        }
    }
}
