import Foundation
import OAuthBroker
import Synchronization

/// A decorator that logs each request's method, URL, status and duration around another transport.
///
/// It never logs headers or bodies: they carry the client secret, codes and tokens.
final class LoggingTransport<Base: TokenTransport>: TokenTransport {
    private let base: Base
    private let count = Mutex(0)

    init(wrapping base: Base) { self.base = base }

    /// The number of requests sent so far.
    var requestCount: Int { count.withLock { $0 } }

    func send(_ request: TransportRequest) async throws -> TransportResponse {
        let number = count.withLock { value in
            value += 1
            return value
        }
        let start = ContinuousClock.now
        do {
            let response = try await base.send(request)
            print(
                "  [http #\(number)] \(request.method) \(request.url.path) -> \(response.status) in \(ContinuousClock.now - start)"
            )
            return response
        } catch {
            print("  [http #\(number)] \(request.method) \(request.url.path) failed: \(type(of: error))")
            throw error
        }
    }
}
