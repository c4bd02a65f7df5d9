import OAuthBroker
import Synchronization

/// Bounds one store call in time, whatever postgres-nio does meanwhile.
///
/// `PostgresClient` waits for a pooled connection for as long as it takes (it retries the connect with backoff
/// while the server is down), and a query on a connection whose peer went silent waits for TCP to notice. So the
/// operation runs in its own task, and the caller resumes with whichever comes first: its result, the timeout
/// (``OAuthBroker/BrokerError/Code/storeUnavailable``), or the caller's cancellation. On timeout or cancellation the
/// operation task is cancelled (a waiting lease request is withdrawn at once; a query in flight ends when its
/// connection does) and its eventual result is dropped.
enum PostgresDeadline {
    @discardableResult
    static func run<T: Sendable>(
        _ timeout: Duration, during operation: String, key: StoreKey? = nil,
        _ body: @escaping @Sendable () async throws -> T
    ) async throws -> T {
        let race = Race<T>()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
                race.start(continuation)
                let work = Task {
                    do {
                        race.finish(.success(try await body()))
                    } catch {
                        race.finish(.failure(PostgresErrorMapping.error(error, during: operation, key: key)))
                    }
                }
                let timer = Task {
                    try? await Task.sleep(for: timeout)
                    guard !Task.isCancelled else { return }
                    race.finish(
                        .failure(
                            BrokerError(
                                .storeUnavailable,
                                "PostgreSQL did not complete \(operation) within \(timeout) (server down, unreachable "
                                    + "or overloaded, or the PostgresClient is not running)", key: key)))
                }
                race.attach(work: work, timer: timer)
            }
        } onCancel: {
            race.finish(.failure(CancellationError()))
        }
    }

    /// The continuation, resumed once, and the two tasks racing to resume it.
    private final class Race<T: Sendable>: Sendable {
        private struct State {
            var continuation: CheckedContinuation<T, any Error>?
            var outcome: Result<T, any Error>?
            var work: Task<Void, Never>?
            var timer: Task<Void, Never>?
        }
        private let state = Mutex(State())

        func start(_ continuation: CheckedContinuation<T, any Error>) {
            let early = state.withLock { state -> Result<T, any Error>? in
                if let outcome = state.outcome { return outcome }
                state.continuation = continuation
                return nil
            }
            // Cancelled before the continuation existed.
            if let early { continuation.resume(with: early) }
        }

        func attach(work: Task<Void, Never>, timer: Task<Void, Never>) {
            let finished = state.withLock { state -> Bool in
                state.work = work
                state.timer = timer
                return state.outcome != nil
            }
            if finished { cancelTasks() }
        }

        func finish(_ outcome: Result<T, any Error>) {
            let continuation = state.withLock { state -> CheckedContinuation<T, any Error>? in
                guard state.outcome == nil else { return nil }
                state.outcome = outcome
                defer { state.continuation = nil }
                return state.continuation
            }
            continuation?.resume(with: outcome)
            cancelTasks()
        }

        private func cancelTasks() {
            let tasks = state.withLock { ($0.work, $0.timer) }
            tasks.0?.cancel()
            tasks.1?.cancel()
        }
    }
}
