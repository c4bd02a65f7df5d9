import Foundation
import OAuthBroker
import OAuthBrokerRedis
import OAuthBrokerTesting
import Testing

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Where the shared test server is, from the environment.
///
/// `OAUTH_BROKER_REDIS_URL` (for example `redis://127.0.0.1:6391/0`) names the server. Without it, tests that need
/// it are skipped locally, but under CI (`CI` set) they run and fail, so a missing server is never silent.
enum RedisTestEnvironment {
    static let url = ProcessInfo.processInfo.environment["OAUTH_BROKER_REDIS_URL"].flatMap { $0.isEmpty ? nil : $0 }
    static let isCI = ProcessInfo.processInfo.environment["CI"].map { !$0.isEmpty } ?? false
    /// Whether tests needing the shared server run: a URL is set, or this is CI (where they then fail loudly).
    static let hasServer = url != nil || isCI
    /// Whether tests that start their own `redis-server` run: one is on `PATH`, or this is CI.
    static let hasRedisServerBinary = RedisServerProcess.executablePath != nil || isCI

    /// The configuration of the shared server, with a fresh key prefix so tests never collide.
    static func configuration(
        sourceLocation: SourceLocation = #_sourceLocation, _ adjust: (inout RedisStore.Configuration) -> Void = { _ in }
    ) throws -> RedisStore.Configuration {
        let url = try #require(
            url, "OAUTH_BROKER_REDIS_URL is not set, and CI is: a Redis test server is required",
            sourceLocation: sourceLocation)
        var configuration = try RedisStore.Configuration(url: url)
        configuration.keyPrefix = uniquePrefix()
        configuration.connectTimeout = .seconds(5)
        configuration.commandTimeout = .seconds(10)
        configuration.poolTimeout = .seconds(30)
        adjust(&configuration)
        return configuration
    }

    /// A store on the shared server under a fresh key prefix.
    static func store(
        codec: any StoreCodec = JSONStoreCodec(), sourceLocation: SourceLocation = #_sourceLocation,
        _ adjust: (inout RedisStore.Configuration) -> Void = { _ in }
    ) throws -> RedisStore {
        try RedisStore(configuration: configuration(sourceLocation: sourceLocation, adjust), codec: codec)
    }

    static func uniquePrefix() -> String {
        "oauth-broker-test:\(UInt64.random(in: 0...UInt64.max)):"
    }
}

extension RedisStore {
    /// Deletes every key under this store's prefix (tests clean up after themselves).
    func deleteAllKeysUnderPrefix() async throws {
        let pattern = configuration.keyPrefix.replacingOccurrences(of: "*", with: "\\*") + "*"
        var cursor = "0"
        for _ in 0..<100_000 {
            let reply = try await command("SCAN", cursor, "MATCH", pattern, "COUNT", "500")
            let parts = try #require(reply.array)
            cursor = try #require(parts[0].string)
            let names = try #require(parts[1].array).compactMap(\.bytes)
            if !names.isEmpty { _ = try await command([Array("DEL".utf8)] + names) }
            if cursor == "0" { return }
        }
    }
}

/// Waits, in bounded steps, until `condition` holds.
func eventually(
    attempts: Int = 200, every interval: Duration = .milliseconds(50), _ condition: () async -> Bool
) async -> Bool {
    for _ in 0..<attempts {
        if await condition() { return true }
        try? await Task.sleep(for: interval)
    }
    return false
}

/// A throwaway `redis-server` child process on its own loopback port, which a test can stop, freeze and restart.
final class RedisServerProcess: @unchecked Sendable {
    // @unchecked Sendable: `process` is only touched by the test that owns this object, one call at a time.
    static let executablePath: String? = {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        let directories = path.split(separator: ":").map(String.init) + ["/usr/sbin", "/usr/local/sbin"]
        for directory in directories {
            let candidate = "\(directory)/redis-server"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }()

    let port: Int
    private let extraArguments: [String]
    private var process: Process?

    private init(port: Int, extraArguments: [String]) {
        self.port = port
        self.extraArguments = extraArguments
    }

    /// Starts a server on a free port.
    static func start(extraArguments: [String] = []) async throws -> RedisServerProcess {
        let server = RedisServerProcess(port: try LoopbackPort.unused(), extraArguments: extraArguments)
        try await server.start()
        return server
    }

    deinit {
        if let process, process.isRunning {
            kill(process.processIdentifier, SIGCONT)
            kill(process.processIdentifier, SIGKILL)
        }
    }

    var pid: Int32? { process?.processIdentifier }

    /// (Re)starts the server on ``port`` and waits until it accepts TCP connections.
    func start() async throws {
        let executable = try #require(
            Self.executablePath, "redis-server is not on PATH (install redis-server; required under CI)")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments =
            [
                "--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--daemonize", "no",
                "--loglevel", "warning",
            ] + extraArguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        self.process = process
        for _ in 0..<400 {
            if LoopbackPort.acceptsConnections(port) { return }
            guard process.isRunning else { break }
            try await Task.sleep(for: .milliseconds(10))
        }
        throw BrokerError(.storeUnavailable, "the throwaway redis-server on port \(port) did not start")
    }

    /// Kills the server (SIGKILL: no goodbye to clients) and waits for it to exit.
    func stop() async throws {
        guard let process else { return }
        self.process = nil
        kill(process.processIdentifier, SIGCONT)
        kill(process.processIdentifier, SIGKILL)
        for _ in 0..<500 where process.isRunning { try await Task.sleep(for: .milliseconds(10)) }
        try #require(!process.isRunning, "the throwaway redis-server did not exit after SIGKILL")
    }

    /// Freezes the server (SIGSTOP): connections stay open, nothing answers.
    func freeze() { if let pid { kill(pid, SIGSTOP) } }

    /// Thaws a frozen server (SIGCONT).
    func thaw() { if let pid { kill(pid, SIGCONT) } }

    func url(password: String? = nil, user: String? = nil, database: Int = 0) -> String {
        var auth = ""
        if let password {
            let encoded = password.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? password
            auth = "\(user ?? ""):\(encoded)@"
        }
        return "redis://\(auth)127.0.0.1:\(port)/\(database)"
    }
}
