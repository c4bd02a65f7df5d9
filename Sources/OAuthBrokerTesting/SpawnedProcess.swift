public import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A child process started with `posix_spawn`, its standard output and standard error on pipes, its standard
/// input on `/dev/null`.
///
/// The test support starts children with this instead of Foundation's `Process`: on Linux, `Process.run()` can
/// read past a buffer while it lists `/proc/self/fd` and crash the parent, which a test run that starts hundreds of
/// children with many descriptors open hits now and then.
public struct SpawnedProcess: Sendable {
    /// The child's process id.
    public let processIdentifier: Int32
    /// The read end of the child's standard output; the caller owns it (close it after reading to end of file).
    public let standardOutput: Int32
    /// The read end of the child's standard error; the caller owns it.
    public let standardError: Int32

    /// Starts `executable` with `arguments`.
    ///
    /// - Parameters:
    ///   - executable: An absolute path.
    ///   - arguments: The arguments, without the program name.
    ///   - environment: The environment; the parent's when `nil`.
    ///   - directory: The working directory; the parent's when `nil`.
    /// - Throws: `POSIXError` when a pipe cannot be made or the program cannot be started.
    public static func spawn(
        executable: String, arguments: [String], environment: [String: String]? = nil, directory: String? = nil
    ) throws -> SpawnedProcess {
        // One spawn at a time in this process, so that no other child of ours inherits the pipes between their
        // creation and close-on-exec being set.
        try spawnLock.withLock { _ in
            try spawnLocked(
                executable: executable, arguments: arguments, environment: environment, directory: directory)
        }
    }

    private static let spawnLock = Mutex(())

    private static func makePipe() throws -> (read: Int32, write: Int32) {
        var ends: [Int32] = [-1, -1]
        guard pipe(&ends) == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        _ = fcntl(ends[0], F_SETFD, FD_CLOEXEC)
        _ = fcntl(ends[1], F_SETFD, FD_CLOEXEC)
        return (ends[0], ends[1])
    }

    private static func spawnLocked(
        executable: String, arguments: [String], environment: [String: String]?, directory: String?
    ) throws -> SpawnedProcess {
        let outputPipe = try makePipe()
        let errorPipe: (read: Int32, write: Int32)
        do {
            errorPipe = try makePipe()
        } catch {
            close(outputPipe.read)
            close(outputPipe.write)
            throw error
        }
        let output = [outputPipe.read, outputPipe.write]
        let errors = [errorPipe.read, errorPipe.write]
        defer {
            // The child has its copies; the parent keeps only the read ends.
            close(output[1])
            close(errors[1])
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, output[1], 1)
        posix_spawn_file_actions_adddup2(&actions, errors[1], 2)

        // Children start with no blocked signals and default dispositions, whatever the parent's threads set.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var signals = sigset_t()
        sigemptyset(&signals)
        posix_spawnattr_setsigmask(&attributes, &signals)
        var defaults = sigset_t()
        sigfillset(&defaults)
        sigdelset(&defaults, SIGKILL)
        sigdelset(&defaults, SIGSTOP)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        // A working directory is set by `env -C` (glibc's posix_spawn_file_actions_addchdir_np is not visible to
        // Swift).
        let program = directory == nil ? executable : "/usr/bin/env"
        let words = directory.map { ["/usr/bin/env", "-C", $0, executable] } ?? [executable]
        let argv = (words + arguments).map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        let pairs = (environment ?? ProcessInfo.processInfo.environment).map { "\($0.key)=\($0.value)" }
        let envp = pairs.map { strdup($0) } + [nil]
        defer { for pointer in envp { free(pointer) } }

        var pid: pid_t = 0
        let result = posix_spawn(&pid, program, &actions, &attributes, argv, envp)
        guard result == 0 else {
            close(output[0])
            close(errors[0])
            throw POSIXError(POSIXErrorCode(rawValue: result) ?? .EIO)
        }
        return SpawnedProcess(processIdentifier: pid, standardOutput: output[0], standardError: errors[0])
    }

    /// Blocks the calling thread until the child exits (call it from a thread of its own).
    /// - Returns: The exit code, or the signal number if a signal ended the child (as Foundation's
    ///   `terminationStatus`).
    public func waitForExit() -> Int32 {
        var status: Int32 = 0
        while waitpid(processIdentifier, &status, 0) == -1 {
            if errno != EINTR { return -1 }
        }
        let signal = status & 0x7F
        return signal == 0 ? (status >> 8) & 0xFF : signal
    }

    /// Reads `descriptor` until end of file, handing each chunk to `consume`, then closes it.
    public static func readUntilEndOfFile(_ descriptor: Int32, _ consume: (Data) -> Void) {
        defer { close(descriptor) }
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count > 0 {
                consume(Data(buffer[0..<count]))
            } else if count == 0 || errno != EINTR {
                return
            }
        }
    }
}
