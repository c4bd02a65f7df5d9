import Foundation
import OAuthBroker
import OAuthBrokerTesting
import Testing

/// The shared PostgreSQL test server: `OAUTH_BROKER_POSTGRES_URL` (the role `oauth_broker` with password
/// `oauth_broker`, as `scripts/postgres.sh` sets it up). Without it the tests that need it are skipped locally;
/// under CI (`CI` set) they run and fail, so a missing server is never silent.
private let postgresURL = ProcessInfo.processInfo.environment["OAUTH_BROKER_POSTGRES_URL"].flatMap {
    $0.isEmpty ? nil : $0
}
private let isCI = !(ProcessInfo.processInfo.environment["CI"] ?? "").isEmpty
private let hasPostgres = postgresURL != nil || isCI

/// The shared server's host, port, user and database, from its URL (`postgres://user:password@host:port/db`).
private func serverParts() throws -> (user: String, host: String, port: Int, database: String, password: String) {
    let url = try #require(postgresURL, "OAUTH_BROKER_POSTGRES_URL is not set, and CI is: PostgreSQL is required")
    let components = try #require(URLComponents(string: url))
    return (
        try #require(components.user), try #require(components.host), components.port ?? 5432,
        String(components.path.dropFirst()), components.password ?? ""
    )
}

@Suite("oauth-broker with postgres:// stores")
struct PostgresStoreCLITests {
    @Test("PostgreSQL down (a closed port) exits with 4 for token and list within the timeout, password unprinted")
    func postgresDownExit4() async throws {
        try await CLIFixture.with { fixture in
            let closed = try ReservedClosedPort()
            let password = "pg-password-\(UInt64.random(in: .min ... .max))"
            let store = "postgres://broker:\(password)@127.0.0.1:\(closed.port)/tokens"
            let provider = try fixture.writeProvider()
            let token = try await fixture.run(["token"] + fixture.keyArguments(provider: provider, store: store))
            #expect(token.status == 4, "\(token)")
            #expect(token.errorLine.contains("store_unavailable"))
            // The process's own run time, from spawn to exit (not the wait for a launch slot).
            #expect(token.elapsed < .seconds(30), "the broker's total timeout (30 s) was exceeded: \(token.elapsed)")
            #expect(fixture.server.statistics.totalRequests == 0)
            let list = try await fixture.run(["list", "--store", store])
            #expect(list.status == 4, "\(list)")
            for result in [token, list] { expectNoSecrets(result, [password, fixture.clientSecret]) }
            withExtendedLifetime(closed) {}
        }
    }

    @Test("a malformed PostgreSQL URL exits with 2")
    func badPostgresURLExit2() async throws {
        let result = try await CLI.run(["list", "--store", "postgresql://user@127.0.0.1:notaport/db"])
        #expect(result.status == 2, "\(result)")
        #expect(result.errorLine.contains("--store"))
    }

    @Test(
        "a wrong password, an unknown role and an unknown database exit with 2, the password unprinted",
        .enabled(if: hasPostgres, "needs OAUTH_BROKER_POSTGRES_URL"))
    func rejectedLoginExit2() async throws {
        let server = try serverParts()
        let wrong = "wrong-\(UInt64.random(in: .min ... .max))"
        let stores = [
            "postgres://\(server.user):\(wrong)@\(server.host):\(server.port)/\(server.database)",
            "postgres://nobody_\(UInt32.random(in: .min ... .max)):\(wrong)@\(server.host):\(server.port)/x",
            "postgres://\(server.user):\(server.password)@\(server.host):\(server.port)/missing_\(UInt32.random(in: 0...UInt32.max))",
        ]
        for store in stores {
            let result = try await CLI.run(["list", "--store", store], environment: ["PGPASSWORD": nil])
            #expect(result.status == 2, "\(result)")
            #expect(result.errorLine.contains("invalid_configuration"), "\(result)")
            expectNoSecrets(result, [wrong])
        }
    }

    @Test(
        "the password comes from PGPASSWORD or a 0600 PGPASSFILE; a pass file others can read is ignored",
        .enabled(if: hasPostgres, "needs OAUTH_BROKER_POSTGRES_URL"))
    func passwordFromEnvironmentOrPassFile() async throws {
        let server = try serverParts()
        let schema = "oauth_broker_cli_tests"
        let store = "postgres://\(server.user)@\(server.host):\(server.port)/\(server.database)?schema=\(schema)"
        let fromEnvironment = try await CLI.run(
            ["list", "--store", store], environment: ["PGPASSWORD": server.password, "PGPASSFILE": "/nonexistent"])
        #expect(fromEnvironment.status == 0, "\(fromEnvironment)")
        try await withTemporaryDirectory { directory in
            let file = directory + "/pgpass"
            let text =
                "# a comment\nother:*:*:*:nope\n\(server.host):\(server.port):*:\(server.user):\(server.password)\n"
            #expect(FileManager.default.createFile(atPath: file, contents: Data(text.utf8)))
            try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: file)
            let fromFile = try await CLI.run(
                ["list", "--store", store], environment: ["PGPASSWORD": nil, "PGPASSFILE": file])
            #expect(fromFile.status == 0, "\(fromFile)")
            try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: file)
            let ignored = try await CLI.run(
                ["list", "--store", store], environment: ["PGPASSWORD": nil, "PGPASSFILE": file])
            #expect(ignored.status == 2, "a group- or world-readable pass file was used: \(ignored)")
            expectNoSecrets(ignored, [server.password])
        }
    }

    @Test("token and list work against a live PostgreSQL", .enabled(if: hasPostgres, "needs OAUTH_BROKER_POSTGRES_URL"))
    func livePostgres() async throws {
        let base = try #require(postgresURL)
        let store =
            base + (base.contains("?") ? "&" : "?") + "schema=oauth_broker_cli_tests"
        try await CLIFixture.with { fixture in
            let provider = try fixture.writeProvider()
            let tenant = "cli-\(UInt64.random(in: .min ... .max))"
            let arguments = fixture.keyArguments(provider: provider, store: store, tenant: tenant, principal: "svc")
            let first = try await fixture.run(["token", "--format", "raw"] + arguments)
            #expect(first.status == 0, "\(first)")
            let second = try await fixture.run(["token", "--format", "raw"] + arguments)
            #expect(second.stdout == first.stdout)
            #expect(fixture.server.statistics.requests(to: .token) == 1)
            let list = try await fixture.run(["list", "--store", store, "--tenant", tenant])
            #expect(list.status == 0, "\(list)")
            #expect(list.stdout.contains("mock/\(tenant)/svc/"))
            expectNoSecrets(list, [fixture.clientSecret, first.stdout.trimmingCharacters(in: .newlines)])
        }
    }
}
