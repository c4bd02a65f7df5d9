import OAuthBroker
import Synchronization

/// One `send` call's request and its continuation, shared by the calling task, its cancellation handler and the
/// driver thread.
///
/// Whoever moves the phase to `.finished` resumes the continuation, so it is resumed exactly once whatever the order
/// of completion, cancellation and shutdown.
final class PendingTransfer: Sendable {
    typealias Continuation = CheckedContinuation<TransportResponse, any Error>

    private enum Phase {
        /// `send` has not registered its continuation yet.
        case created
        /// Cancelled before the continuation was registered; registration resumes it at once.
        case cancelledEarly
        /// Waiting for the driver (queued or transferring).
        case waiting(Continuation)
        /// Resumed.
        case finished
    }

    let request: TransportRequest
    private let phase = Mutex(Phase.created)

    init(request: TransportRequest) { self.request = request }

    /// Registers the continuation. Returns `false` when the task was cancelled first; the continuation has then been
    /// resumed with `CancellationError` and the transfer must not be queued.
    func register(_ continuation: Continuation) -> Bool {
        let cancelled = phase.withLock { phase -> Bool in
            if case .cancelledEarly = phase {
                phase = .finished
                return true
            }
            phase = .waiting(continuation)
            return false
        }
        if cancelled { continuation.resume(throwing: CancellationError()) }
        return !cancelled
    }

    /// Marks the transfer cancelled. Returns `true` when this resumed a waiting continuation (so the driver must
    /// drop the transfer).
    @discardableResult
    func cancel() -> Bool {
        let continuation = phase.withLock { phase -> Continuation? in
            switch phase {
            case .created:
                phase = .cancelledEarly
                return nil
            case .waiting(let continuation):
                phase = .finished
                return continuation
            case .cancelledEarly, .finished:
                return nil
            }
        }
        continuation?.resume(throwing: CancellationError())
        return continuation != nil
    }

    /// Resumes the continuation with `result` unless it was resumed already.
    func finish(_ result: Result<TransportResponse, any Error>) {
        let continuation = phase.withLock { phase -> Continuation? in
            guard case .waiting(let continuation) = phase else { return nil }
            phase = .finished
            return continuation
        }
        continuation?.resume(with: result)
    }

    /// Whether the continuation has been resumed (so there is nothing left to transfer for).
    var isFinished: Bool {
        phase.withLock { phase in
            if case .finished = phase { return true }
            return false
        }
    }
}
