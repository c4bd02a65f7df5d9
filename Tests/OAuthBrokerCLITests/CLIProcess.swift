import Foundation
import OAuthBroker
import OAuthBrokerTesting
import Synchronization
import Testing

/// What one run of the `oauth-broker` executable produced.
struct CLIResult: Sendable, CustomStringConvertible {
    /// The exit status (or `-1` when it had to be killed).
    let status: Int32
    let stdout: String
    let stderr: String
    /// Whether the process outlived its timeout and was killed.
    let timedOut: Bool
    /// From the spawn to the exit: not the time spent waiting for a launch slot.
    let elapsed: Duration

    /// Standard output and standard error together, for secret scans.
    var allOutput: String { stdout + "\n" + stderr }

    /// Standard error without its trailing newline.
    var errorLine: String { stderr.trimmingCharacters(in: .newlines) }

    var description: String { "exit \(status)\(timedOut ? " (timed out)" : "")\nstdout: \(stdout)\nstderr: \(stderr)" }
}

/// Runs the built `oauth-broker` binary as a real OS process.
///
/// The binary is found by ``TestExecutable`` (next to the test bundle in `.build/<configuration>/`, or in
/// `OAUTH_BROKER_BIN_DIR`); a missing binary fails the test with a message saying to run `swift build`.
/// Each run has a bounded timeout after which the child is killed with SIGKILL and reaped, so no test leaves a
/// process behind.
enum CLI {
    /// How many CLI processes the tests run at once (unless a run says it must overlap). Every CLI test suite runs
    /// in parallel with every other test in one process; on a 2-core machine an unbounded number of debug CLI
    /// processes starves the timing-sensitive tests of CPU.
    static let maximumConcurrentRuns = max(2, ProcessInfo.processInfo.activeProcessorCount)
    private static let launches = LaunchLimiter(permits: maximumConcurrentRuns)

    static func executablePath() throws -> String {
        try TestExecutable.path("oauth-broker")
    }

    /// Runs `oauth-broker arguments…` and waits for it to exit.
    ///
    /// - Parameters:
    ///   - arguments: The arguments after the program name.
    ///   - environment: Variables added to (or, with `nil` values, removed from) the test's environment.
    ///   - directory: The working directory.
    ///   - timeout: The longest the process may run before it is killed.
    ///   - launcher: A program and its arguments that run the CLI (for example `setpriv --reuid=…`), or empty.
    ///   - overlapping: Start at once even when ``maximumConcurrentRuns`` others are running: for a test whose
    ///     processes must overlap (one runs while another waits for it), which the limit could serialize.
    static func run(
        _ arguments: [String], environment: [String: String?] = [:], directory: String? = nil,
        timeout: Duration = .seconds(120), launcher: [String] = [], overlapping: Bool = false
    ) async throws -> CLIResult {
        guard !overlapping else {
            return try await runOnThread(
                arguments, environment: environment, directory: directory, timeout: timeout, launcher: launcher)
        }
        await launches.acquire()
        do {
            let result = try await runOnThread(
                arguments, environment: environment, directory: directory, timeout: timeout, launcher: launcher)
            await launches.release()
            return result
        } catch {
            await launches.release()
            throw error
        }
    }

    private static func runOnThread(
        _ arguments: [String], environment: [String: String?], directory: String?, timeout: Duration,
        launcher: [String]
    ) async throws -> CLIResult {
        var path = try executablePath()
        var arguments = arguments
        if let program = launcher.first {
            arguments = launcher.dropFirst() + [path] + arguments
            path = program
        }
        var childEnvironment = ProcessInfo.processInfo.environment
        for (name, value) in environment { childEnvironment[name] = value }
        let finalEnvironment = childEnvironment
        let finalPath = path
        let finalArguments = arguments
        // Process, pipes and the blocking waits live on a dedicated thread, never on the cooperative pool.
        return try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread {
                do {
                    continuation.resume(
                        returning: try runBlocking(
                            path: finalPath, arguments: finalArguments, environment: finalEnvironment,
                            directory: directory,
                            timeout: timeout))
                } catch {
                    continuation.resume(throwing: error)
                }
            }
        }
    }

    private static func runBlocking(
        path: String, arguments: [String], environment: [String: String], directory: String?, timeout: Duration
    ) throws -> CLIResult {
        let spawned = ContinuousClock.now
        let child = try SpawnedProcess.spawn(
            executable: path, arguments: arguments, environment: environment, directory: directory)
        let exited = DispatchSemaphore(value: 0)
        let exitStatus = Mutex<(status: Int32, elapsed: Duration)>((-1, .zero))
        Thread.detachNewThread {
            let status = child.waitForExit()
            let elapsed = ContinuousClock.now - spawned
            exitStatus.withLock { $0 = (status, elapsed) }
            exited.signal()
        }

        // Drain both pipes at once so a chatty child never blocks on a full pipe.
        let collected = Collected()
        let readers = DispatchGroup()
        for (descriptor, isOut) in [(child.standardOutput, true), (child.standardError, false)] {
            readers.enter()
            Thread.detachNewThread {
                var data = Data()
                SpawnedProcess.readUntilEndOfFile(descriptor) { data.append($0) }
                collected.state.withLock { if isOut { $0.out = data } else { $0.err = data } }
                readers.leave()
            }
        }
        var timedOut = false
        if exited.wait(timeout: .now() + timeout.timeInterval) == .timedOut {
            timedOut = true
            kill(child.processIdentifier, SIGKILL)
            exited.wait()
        }
        // The pipes close when the child exits (it starts no grandchildren); bounded anyway.
        _ = readers.wait(timeout: .now() + 30)
        let (out, err) = collected.state.withLock { ($0.out, $0.err) }
        let (status, elapsed) = exitStatus.withLock { $0 }
        return CLIResult(
            status: timedOut ? -1 : status, stdout: String(decoding: out, as: UTF8.self),
            stderr: String(decoding: err, as: UTF8.self), timedOut: timedOut, elapsed: elapsed)
    }
}

/// The bytes read from the child's two pipes.
private final class Collected: Sendable {
    let state = Mutex<(out: Data, err: Data)>((Data(), Data()))
}

extension Duration {
    var timeInterval: TimeInterval {
        let (seconds, attoseconds) = components
        return TimeInterval(seconds) + TimeInterval(attoseconds) / 1e18
    }
}

/// Expects that none of `secrets` appears in the result's standard output or standard error.
func expectNoSecrets(
    _ result: CLIResult, _ secrets: [String], sourceLocation: SourceLocation = #_sourceLocation
) {
    for secret in secrets where !secret.isEmpty {
        #expect(
            !result.allOutput.contains(secret), "a secret appeared in the output:\n\(result)",
            sourceLocation: sourceLocation)
    }
}

/// A counting semaphore for async callers: ``acquire()`` suspends (never blocks a thread) until a permit is free.
actor LaunchLimiter {
    private var available: Int
    private var waiters: [CheckedContinuation<Void, Never>] = []

    init(permits: Int) { available = permits }

    func acquire() async {
        if available > 0 {
            available -= 1
            return
        }
        await withCheckedContinuation { waiters.append($0) }
    }

    func release() {
        if waiters.isEmpty {
            available += 1
        } else {
            waiters.removeFirst().resume()
        }
    }
}
