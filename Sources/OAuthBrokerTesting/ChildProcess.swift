import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A child OS process for multi-process tests: its standard output as an async stream of lines, its standard
/// error collected, and its exit awaited without blocking a thread.
///
/// ```swift
/// let child = try ChildProcess(executable: try TestExecutable.path("oauth-broker-test-helper"),
///                              arguments: ["cas-loop", "--store", url, "--tenant", "t", "--iterations", "100"])
/// for await line in child.lines where line.hasPrefix("progress 10 ") { child.signal(SIGKILL); break }
/// let status = await child.exitStatus()
/// ```
/// Use Swift Testing's `.timeLimit` on tests that wait for a child: a wedged child never ends its stream.
public final class ChildProcess: Sendable {
    private struct State {
        var pending = Data()
        var errorOutput = Data()
        var status: Int32?
        var exitWaiters: [CheckedContinuation<Int32, Never>] = []
    }

    /// The child's standard output, one line (without the newline) per element; finishes at end of file.
    public let lines: AsyncStream<String>
    /// The child's process id.
    public let processIdentifier: Int32
    private final class Shared: Sendable {
        let state = Mutex(State())
    }

    private let shared: Shared

    /// Starts `executable` with `arguments`.
    /// - Parameters:
    ///   - executable: An absolute path.
    ///   - arguments: The arguments, without the program name.
    ///   - environment: The environment; the parent's when `nil`.
    /// - Throws: `POSIXError` if the process cannot be started.
    public init(executable: String, arguments: [String], environment: [String: String]? = nil) throws {
        let child = try SpawnedProcess.spawn(executable: executable, arguments: arguments, environment: environment)
        processIdentifier = child.processIdentifier
        let shared = Shared()
        self.shared = shared
        let (stream, continuation) = AsyncStream.makeStream(of: String.self)
        lines = stream
        // One reader thread per pipe, doing blocking reads until end of file, and one thread waiting for the exit.
        Thread.detachNewThread {
            SpawnedProcess.readUntilEndOfFile(child.standardOutput) { data in
                let complete: [String] = shared.state.withLock { state in
                    state.pending.append(data)
                    var found: [String] = []
                    while let newline = state.pending.firstIndex(of: UInt8(ascii: "\n")) {
                        found.append(String(decoding: state.pending[state.pending.startIndex..<newline], as: UTF8.self))
                        state.pending = Data(state.pending[(newline + 1)...])
                    }
                    return found
                }
                for line in complete { continuation.yield(line) }
            }
            let rest = shared.state.withLock { state in
                defer { state.pending = Data() }
                return state.pending
            }
            if !rest.isEmpty { continuation.yield(String(decoding: rest, as: UTF8.self)) }
            continuation.finish()
        }
        Thread.detachNewThread {
            SpawnedProcess.readUntilEndOfFile(child.standardError) { data in
                shared.state.withLock { $0.errorOutput.append(data) }
            }
        }
        Thread.detachNewThread {
            let status = child.waitForExit()
            let waiters = shared.state.withLock { state in
                state.status = status
                defer { state.exitWaiters = [] }
                return state.exitWaiters
            }
            for waiter in waiters { waiter.resume(returning: status) }
        }
    }

    /// Sends `signal` (for example `SIGKILL`) to the child.
    /// - Parameter signal: The signal number.
    public func signal(_ signal: Int32) {
        kill(processIdentifier, signal)
    }

    /// Waits for the child to exit.
    /// - Returns: The exit code, or the signal number if a signal ended it.
    public func exitStatus() async -> Int32 {
        await withCheckedContinuation { continuation in
            let status: Int32? = shared.state.withLock { state in
                if let status = state.status { return status }
                state.exitWaiters.append(continuation)
                return nil
            }
            if let status { continuation.resume(returning: status) }
        }
    }

    /// What the child wrote to standard error so far.
    public var standardError: String {
        shared.state.withLock { String(decoding: $0.errorOutput, as: UTF8.self) }
    }
}
