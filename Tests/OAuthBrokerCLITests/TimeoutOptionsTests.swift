import Foundation
import OAuthBroker
import OAuthBrokerTesting
import Testing

@Suite("oauth-broker --request-timeout, --total-timeout, --lease-ttl, --store-write-timeout")
struct TimeoutOptionsTests {
    static let flags = ["--request-timeout", "--total-timeout", "--lease-ttl", "--store-write-timeout"]

    /// Not a number of seconds as the flags define it, zero, or more than a day.
    static let badValues = [
        "", "nan", "NaN", "inf", "-inf", "-1", "+5", "0", "0.000", "1e3", ".5", "5.", "0.0001", "1,5", " 5", "5s",
        "0x10", "1_000", "\u{0665}", "86400.001", "86401", "99999999999999999999999",
    ]

    /// `status` 2, nothing on standard output, exactly one line on standard error, naming every one of `flags`.
    private func expectUsageError(
        _ result: CLIResult, naming flags: [String], sourceLocation: SourceLocation = #_sourceLocation
    ) {
        #expect(result.status == 2, "\(result)", sourceLocation: sourceLocation)
        #expect(result.stdout.isEmpty, "\(result)", sourceLocation: sourceLocation)
        #expect(result.stderr == result.errorLine + "\n", "\(result)", sourceLocation: sourceLocation)
        #expect(!result.errorLine.contains("\n"), "\(result)", sourceLocation: sourceLocation)
        #expect(result.errorLine.hasPrefix("oauth-broker: error: "), "\(result)", sourceLocation: sourceLocation)
        for flag in flags {
            #expect(result.errorLine.contains(flag), "\(result)", sourceLocation: sourceLocation)
        }
    }

    private func storeFileExists(_ fixture: CLIFixture) -> Bool {
        FileManager.default.fileExists(atPath: "\(fixture.directory)/tokens.json")
    }

    @Test("a bad value exits with 2 and one line naming the flag; nothing is sent or stored", arguments: flags)
    func badValuesExit2(flag: String) async throws {
        try await CLIFixture.with { fixture in
            let provider = try fixture.writeProvider()
            for value in Self.badValues {
                // `--flag=value`, so that `-1` reaches the option as its value (`--flag=` reads as a missing value).
                let result = try await fixture.run(
                    ["token"] + fixture.keyArguments(provider: provider) + ["\(flag)=\(value)"])
                expectUsageError(result, naming: [flag])
                expectNoSecrets(result, [fixture.clientSecret])
            }
            // A negative value as a separate argument reads as an option, so the flag's value is missing: still 2.
            let separate = try await fixture.run(["token"] + fixture.keyArguments(provider: provider) + [flag, "-1"])
            expectUsageError(separate, naming: [flag])
            #expect(fixture.server.statistics.totalRequests == 0)
            #expect(!storeFileExists(fixture))
        }
    }

    @Test(
        "--total-timeout below --request-timeout, after the defaults are filled in, exits with 2",
        arguments: [
            (["--request-timeout", "40"], ["--request-timeout", "--total-timeout"]),  // the default total is 30 s
            (["--total-timeout", "5"], ["--total-timeout", "--request-timeout"]),  // the default request is 10 s
            (["--request-timeout", "20", "--total-timeout", "10"], ["--total-timeout", "--request-timeout"]),
            (["--request-timeout", "2.5", "--total-timeout", "2.499"], ["--total-timeout", "--request-timeout"]),
        ])
    func totalBelowRequestExit2(arguments: [String], named: [String]) async throws {
        try await CLIFixture.with { fixture in
            let provider = try fixture.writeProvider()
            let result = try await fixture.run(["token"] + fixture.keyArguments(provider: provider) + arguments)
            expectUsageError(result, naming: named)
            #expect(fixture.server.statistics.totalRequests == 0)
            #expect(!storeFileExists(fixture))
            expectNoSecrets(result, [fixture.clientSecret])
        }
    }

    @Test("exchange, refresh and revoke check the flags too, before touching the store or the provider")
    func everyProviderCommandChecksFirst() async throws {
        try await CLIFixture.with { fixture in
            let provider = try fixture.writeProvider()
            _ = try await fixture.authorizeAndExchange(provider: provider)
            let callback = try await fixture.authorize(provider: provider, principal: "bob")
            let path = "\(fixture.directory)/tokens.json"
            let storedBefore = try Data(contentsOf: URL(fileURLWithPath: path))
            let statisticsBefore = fixture.server.statistics
            let key = fixture.keyArguments(provider: provider, scope: "openid profile")
            let exchange = [
                "exchange", "--provider", provider, "--store", fixture.fileStore, "--callback", callback.absoluteString,
            ]
            let commands = [exchange, ["refresh", "--force"] + key, ["revoke"] + key, ["token"] + key]
            var results: [CLIResult] = []
            for command in commands {
                let result = try await fixture.run(command + ["--request-timeout", "0"])
                expectUsageError(result, naming: ["--request-timeout"])
                let mismatch = try await fixture.run(command + ["--total-timeout", "1", "--request-timeout", "2"])
                expectUsageError(mismatch, naming: ["--total-timeout", "--request-timeout"])
                results += [result, mismatch]
            }
            #expect(fixture.server.statistics == statisticsBefore)
            #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == storedBefore)

            // The same exchange with good values goes through: the flag was the only thing wrong.
            let good = try await fixture.run(exchange + ["--request-timeout", "5", "--total-timeout", "12.5"])
            #expect(good.status == 0, "\(good)")
            #expect(fixture.server.statistics.requests(grant: .authorizationCode) == 2)
            let secrets = try await fixture.secrets()
            for result in results + [good] { expectNoSecrets(result, secrets) }
        }
    }

    @Test(
        "integers and decimals up to the millisecond are accepted",
        arguments: [
            ["--request-timeout", "2.5", "--total-timeout", "7.25"],
            ["--request-timeout", "12.5", "--total-timeout", "12.5"],  // equal is allowed
            ["--lease-ttl", "0.1"],
            ["--lease-ttl", "2.5", "--store-write-timeout", "2.25"],
            ["--request-timeout", "007", "--total-timeout", "86400", "--store-write-timeout", "86400.000"],
            ["--request-timeout=5", "--total-timeout=60", "--lease-ttl=30", "--store-write-timeout=45.5"],
        ])
    func decimalsAccepted(arguments: [String]) async throws {
        try await CLIFixture.with { fixture in
            let provider = try fixture.writeProvider()
            let result = try await fixture.run(
                ["token", "--format", "raw"] + fixture.keyArguments(provider: provider) + arguments)
            #expect(result.status == 0, "\(result)")
            #expect(fixture.server.isActive(accessToken: Secret(result.stdout.trimmingCharacters(in: .newlines))))
            #expect(fixture.server.statistics.requests(to: .token) == 1)
            expectNoSecrets(result, [fixture.clientSecret])
        }
    }

    @Test(
        "--lease-ttl 1 with --request-timeout 20 --total-timeout 30 is accepted, and the lease in the store lives 1 s")
    func shortLeaseWithLongRequest() async throws {
        var configuration = MockAuthorizationServer.Configuration()
        // Slow enough that the lease is still in the file while the test looks at it.
        configuration.latency = .seconds(2)
        try await CLIFixture.with(configuration: configuration) { fixture in
            let provider = try fixture.writeProvider()
            let arguments =
                ["token", "--format", "raw"] + fixture.keyArguments(provider: provider)
                + ["--lease-ttl", "1", "--request-timeout", "20", "--total-timeout", "30"]
            async let running = fixture.run(arguments, overlapping: true)
            // The file store keeps leases in its JSON document: {"leases": {"<key>": {"expires_at_ms": …}}}.
            var remaining: [Int64] = []
            var polls = 0
            while remaining.isEmpty && polls < 400 {
                polls += 1
                try await Task.sleep(for: .milliseconds(25))
                guard let data = try? Data(contentsOf: URL(fileURLWithPath: "\(fixture.directory)/tokens.json")),
                    let document = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
                    let leases = document["leases"] as? [String: [String: Any]]
                else { continue }
                let now = Int64(Date().timeIntervalSince1970 * 1000)
                remaining = leases.values.compactMap { ($0["expires_at_ms"] as? NSNumber).map { $0.int64Value - now } }
            }
            let result = try await running
            #expect(result.status == 0, "\(result)")
            #expect(fixture.server.statistics.requests(to: .token) == 1)
            // Seen after it was written, so at most the 1 s asked for (rounded up to the millisecond); the 10 s default
            // would leave about 10 000 ms.
            #expect(remaining.count == 1, "no lease seen in the store while the token request was in flight")
            for milliseconds in remaining { #expect(milliseconds <= 1_001) }
            // `--format raw` prints the access token; nothing else may appear.
            expectNoSecrets(result, [fixture.clientSecret])
        }
    }

    @Test("--request-timeout reaches the broker: 0.5 s against a token endpoint that answers after 3 s times out (4)")
    func requestTimeoutReachesTheBroker() async throws {
        var configuration = MockAuthorizationServer.Configuration()
        configuration.latency = .seconds(3)
        try await CLIFixture.with(configuration: configuration) { fixture in
            let provider = try fixture.writeProvider()
            let result = try await fixture.run(
                ["token"] + fixture.keyArguments(provider: provider) + ["--request-timeout", "0.5"])
            // With the 10 s default the 3 s answer would have arrived and the command would have printed a token.
            #expect(result.status == 4, "\(result)")
            #expect(result.stdout.isEmpty)
            #expect(result.stderr == result.errorLine + "\n")
            #expect(result.errorLine.hasPrefix("oauth-broker: error: timed_out: "), "\(result)")
            #expect(try await fixture.openFileStore().keys().isEmpty)
            expectNoSecrets(result, [fixture.clientSecret])
        }
    }

    @Test("--total-timeout reaches the broker: no retry is started once the whole budget is spent")
    func totalTimeoutReachesTheBroker() async throws {
        var configuration = MockAuthorizationServer.Configuration()
        configuration.latency = .seconds(3)
        try await CLIFixture.with(configuration: configuration) { fixture in
            let provider = try fixture.writeProvider()
            let timeouts = ["--request-timeout", "1", "--total-timeout", "1"]
            let result = try await fixture.run(["token"] + fixture.keyArguments(provider: provider) + timeouts)
            // The attempt times out, or the caller stops waiting for it, when the 1 s budget is spent.
            #expect(result.status == 4, "\(result)")
            let codes = ["timed_out", "deadline_exceeded"]
            #expect(codes.contains { result.errorLine.hasPrefix("oauth-broker: error: \($0): ") }, "\(result)")
            #expect(result.stderr == result.errorLine + "\n")
            // The 30 s default total would leave room for all three attempts, each answered after 3 s.
            #expect(fixture.server.statistics.requests(to: .token) <= 1)
            expectNoSecrets(result, [fixture.clientSecret])
        }
    }

    @Test("help: every command that talks to the provider documents the four flags; authorize has none of them")
    func help() async throws {
        for command in ["token", "exchange", "refresh", "revoke"] {
            let result = try await CLI.run([command, "--help"])
            #expect(result.status == 0, "\(result)")
            // ArgumentParser wraps help to the terminal's width: compare with runs of white space made one space.
            let text = result.stdout.split(whereSeparator: \.isWhitespace).joined(separator: " ")
            for flag in Self.flags { #expect(text.contains("\(flag) <seconds>"), "\(command): \(flag)") }
            let phrases = ["in seconds (e.g. 2.5)", "Default 10.", "Default 30.", "0.1 or more", "not raised for you"]
            for phrase in phrases {
                #expect(text.contains(phrase), "\(command) --help lacks '\(phrase)':\n\(result.stdout)")
            }
        }
        let authorize = try await CLI.run(["authorize", "--help"])
        #expect(authorize.status == 0, "\(authorize)")
        #expect(authorize.stdout.contains("--provider"))
        for flag in Self.flags { #expect(!authorize.stdout.contains(flag)) }
        let rejected = try await CLI.run(
            ["authorize", "--provider", "p.json", "--store", "memory:", "--tenant", "t", "--principal", "p"]
                + ["--request-timeout", "5"])
        expectUsageError(rejected, naming: ["--request-timeout"])
    }
}
