import Foundation
import OAuthBroker
import OAuthBrokerTesting
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A throwaway `redis-server` that requires a password, on its own loopback port.
private final class PasswordProtectedRedis: Sendable {
    static let executable: String? = ["/usr/bin/redis-server", "/usr/local/bin/redis-server", "/usr/sbin/redis-server"]
        .first { FileManager.default.isExecutableFile(atPath: $0) }

    let port: Int
    let password: String
    private let process: SpawnedProcess

    init(password: String) async throws {
        let executable = try #require(Self.executable, "redis-server is not installed")
        port = try LoopbackPort.unused()
        self.password = password
        process = try SpawnedProcess.spawn(
            executable: executable,
            arguments: [
                "--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--daemonize", "no",
                "--loglevel", "warning", "--requirepass", password,
            ], environment: ProcessInfo.processInfo.environment, directory: nil)
        for _ in 0..<500 {
            if LoopbackPort.acceptsConnections(port) { return }
            try await Task.sleep(for: .milliseconds(10))
        }
        stop()
        throw BrokerError(.storeUnavailable, "the throwaway redis-server did not start")
    }

    /// Kills the server and reaps it.
    func stop() {
        kill(process.processIdentifier, SIGKILL)
        _ = process.waitForExit()
        close(process.standardOutput)
        close(process.standardError)
    }
}

@Suite("oauth-broker Redis password outside the URL")
struct RedisPasswordCLITests {
    @Test(
        "--redis-password-file and OAUTH_BROKER_REDIS_PASSWORD authenticate; neither, or both sources, are refused",
        .enabled(if: PasswordProtectedRedis.executable != nil, "needs redis-server installed"))
    func passwordSources() async throws {
        let password = "redis-pw-\(UInt64.random(in: .min ... .max))"
        let redis = try await PasswordProtectedRedis(password: password)
        defer { redis.stop() }
        try await CLIFixture.with { fixture in
            let store = "redis://127.0.0.1:\(redis.port)/0"
            let file = "\(fixture.directory)/redis-password"
            try Data((password + "\n").utf8).write(to: URL(fileURLWithPath: file))
            let provider = try fixture.writeProvider()
            let noVariable: [String: String?] = ["OAUTH_BROKER_REDIS_PASSWORD": nil]

            let fromFile = try await fixture.run(
                ["token", "--redis-password-file", file] + fixture.keyArguments(provider: provider, store: store),
                environment: noVariable)
            #expect(fromFile.status == 0, "\(fromFile)")
            let fromEnvironment = try await fixture.run(
                ["list", "--store", store], environment: ["OAUTH_BROKER_REDIS_PASSWORD": password])
            #expect(fromEnvironment.status == 0, "\(fromEnvironment)")
            #expect(fromEnvironment.stdout.contains("mock/acme/alice/"))

            // Without a password the server refuses: a configuration error, exit 2.
            let without = try await fixture.run(["list", "--store", store], environment: noVariable)
            #expect(without.status == 2, "\(without)")
            // A password in the URL and another one separately: which one was meant? Refused.
            let twice = try await fixture.run(
                ["list", "--store", "redis://:\(password)@127.0.0.1:\(redis.port)/0", "--redis-password-file", file],
                environment: noVariable)
            #expect(twice.status == 2, "\(twice)")
            #expect(twice.errorLine.contains("given twice"))
            // The variable is ignored for other stores; the flag is an error with them.
            let fileStore = try await fixture.run(
                ["list", "--store", fixture.fileStore], environment: ["OAUTH_BROKER_REDIS_PASSWORD": password])
            #expect(fileStore.status == 0, "\(fileStore)")
            let flagWithFile = try await fixture.run(
                ["list", "--store", fixture.fileStore, "--redis-password-file", file], environment: noVariable)
            #expect(flagWithFile.status == 2, "\(flagWithFile)")
            let missing = try await fixture.run(
                ["list", "--store", store, "--redis-password-file", "\(fixture.directory)/absent"],
                environment: noVariable)
            #expect(missing.status == 2, "\(missing)")
            #expect(missing.errorLine.contains("--redis-password-file"))

            for result in [fromFile, fromEnvironment, without, twice, fileStore, flagWithFile, missing] {
                expectNoSecrets(result, [password, fixture.clientSecret])
                #expect(!result.stderr.trimmingCharacters(in: .newlines).contains("\n"), "\(result)")
            }
        }
    }
}
