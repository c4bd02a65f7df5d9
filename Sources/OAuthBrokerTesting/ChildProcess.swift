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
    /// - Throws: Foundation's error if the process cannot be started.
    public init(executable: String, arguments: [String], environment: [String: String]? = nil) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let environment { process.environment = environment }
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        process.standardInput = FileHandle.nullDevice
        let shared = Shared()
        self.shared = shared
        let (stream, continuation) = AsyncStream.makeStream(of: String.self)
        lines = stream
        // One reader thread per pipe, doing blocking reads until end of file. (FileHandle.readabilityHandler was
        // avoided: a dispatch source left on a closed descriptor can steal a later pipe's data when the
        // descriptor number is reused.) Each thread keeps its FileHandle, so the descriptor stays open until it
        // has read everything.
        let outputHandle = output.fileHandleForReading
        let outputReader = Thread {
            ChildProcess.readUntilEndOfFile(outputHandle) { data in
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
        let errorHandle = errors.fileHandleForReading
        let errorReader = Thread {
            ChildProcess.readUntilEndOfFile(errorHandle) { data in shared.state.withLock { $0.errorOutput.append(data) }
            }
        }
        process.terminationHandler = { process in
            let status = process.terminationStatus
            let waiters = shared.state.withLock { state in
                state.status = status
                defer { state.exitWaiters = [] }
                return state.exitWaiters
            }
            for waiter in waiters { waiter.resume(returning: status) }
        }
        try process.run()
        processIdentifier = process.processIdentifier
        // Process.run() has closed the parent's copies of the write ends, so the readers see end of file when
        // the child exits.
        outputReader.start()
        errorReader.start()
    }

    private static func readUntilEndOfFile(_ handle: FileHandle, _ consume: (Data) -> Void) {
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(handle.fileDescriptor, $0.baseAddress, $0.count) }
            if count > 0 {
                consume(Data(buffer[0..<count]))
            } else if count == 0 || errno != EINTR {
                return
            }
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
