import Foundation
import OAuthBroker
import OAuthBrokerTesting
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The CLI against hostile or careless input: callbacks from the wrong issuer, on the wrong redirect URI or for
/// another provider; SQLite files with loose modes; Redis passwords kept out of the command line.
@Suite("oauth-broker hardening")
struct HardeningCLITests {
    static let mockIssuer = "https://mock-issuer.example"

    /// The callback URL with its `iss` replaced by `issuer`.
    static func replacingIssuer(in callback: URL, with issuer: String) throws -> String {
        var components = try #require(URLComponents(url: callback, resolvingAgainstBaseURL: false))
        components.queryItems =
            (components.queryItems ?? []).filter { $0.name != "iss" } + [
                URLQueryItem(name: "iss", value: issuer)
            ]
        return try #require(components.url?.absoluteString)
    }

    @Test("a callback whose iss is not the provider file's issuer exits 3 before any token request; the session lives")
    func issuerMismatchExit3() async throws {
        var configuration = MockAuthorizationServer.Configuration()
        configuration.authorizationResponseIssuer = Self.mockIssuer
        try await CLIFixture.with(configuration: configuration) { fixture in
            let provider = try fixture.writeProvider([
                "issuer": Self.mockIssuer, "authorization_response_iss_parameter_supported": true,
            ])
            let callback = try await fixture.authorize(provider: provider)
            #expect(callback.query?.contains("iss=") == true)
            let exchange = ["exchange", "--provider", provider, "--store", fixture.fileStore, "--callback"]
            for forged in [
                try Self.replacingIssuer(in: callback, with: "https://attacker.example"),
                callback.absoluteString.replacingOccurrences(of: "&iss=", with: "&not-iss="),
            ] {
                let result = try await fixture.run(exchange + [forged])
                #expect(result.status == 3, "\(result)")
                #expect(result.errorLine.contains("authorization_denied"))
                #expect(result.errorLine.contains("RFC 9207"))
                #expect(!result.errorLine.contains("\n"))
            }
            #expect(fixture.server.statistics.requests(to: .token) == 0)
            let genuine = try await fixture.run(exchange + [callback.absoluteString])
            #expect(genuine.status == 0, "\(genuine)")
            #expect(fixture.server.statistics.requests(to: .token) == 1)
        }
    }

    @Test("a provider file whose issuer differs from the server's refuses every callback with exit 3")
    func wrongIssuerInProviderFile() async throws {
        var configuration = MockAuthorizationServer.Configuration()
        configuration.authorizationResponseIssuer = Self.mockIssuer
        try await CLIFixture.with(configuration: configuration) { fixture in
            let expecting = try fixture.writeProvider(["issuer": "https://expected.example"], name: "expecting.json")
            let callback = try await fixture.authorize(provider: expecting)
            let result = try await fixture.run(
                [
                    "exchange", "--provider", expecting, "--store", fixture.fileStore, "--callback",
                    callback.absoluteString,
                ]
            )
            #expect(result.status == 3, "\(result)")
            #expect(fixture.server.statistics.requests(to: .token) == 0)
            let bad = try fixture.writeProvider(["issuer": "http://not-https.example"], name: "bad.json")
            let invalid = try await fixture.run(["authorize"] + fixture.keyArguments(provider: bad))
            #expect(invalid.status == 2, "\(invalid)")
            #expect(invalid.errorLine.contains("issuer"))
        }
    }

    @Test("a callback on another redirect URI exits 3 before any token request")
    func redirectMismatchExit3() async throws {
        try await CLIFixture.with { fixture in
            let provider = try fixture.writeProvider()
            let callback = try await fixture.authorize(provider: provider)
            let moved = callback.absoluteString.replacingOccurrences(
                of: "http://127.0.0.1:9/callback", with: "http://127.0.0.1:9/elsewhere")
            #expect(moved != callback.absoluteString)
            let result = try await fixture.run(
                ["exchange", "--provider", provider, "--store", fixture.fileStore, "--callback", moved])
            #expect(result.status == 3, "\(result)")
            #expect(result.errorLine.contains("redirect URI"))
            #expect(fixture.server.statistics.requests(to: .token) == 0)
        }
    }

    @Test("a callback handed to another provider exits 3 before any token request and the session stays usable")
    func otherProviderExit3() async throws {
        try await CLIFixture.with { fixture in
            let provider = try fixture.writeProvider()
            let other = try fixture.writeProvider(["id": "other"], name: "other.json")
            let callback = try await fixture.authorize(provider: provider)
            let wrong = try await fixture.run(
                ["exchange", "--provider", other, "--store", fixture.fileStore, "--callback", callback.absoluteString])
            #expect(wrong.status == 3, "\(wrong)")
            #expect(wrong.errorLine.contains("invalid_authorization_state"))
            #expect(fixture.server.statistics.requests(to: .token) == 0)
            let right = try await fixture.run(
                [
                    "exchange", "--provider", provider, "--store", fixture.fileStore, "--callback",
                    callback.absoluteString,
                ]
            )
            #expect(right.status == 0, "\(right)")
        }
    }

    static func mode(of path: String) -> mode_t? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return info.st_mode & 0o7777
    }

    @Test("a pre-existing SQLite file with mode 0644 is made 0600; one the CLI cannot chmod exits 2 naming it")
    func sqliteModes() async throws {
        try await CLIFixture.with { fixture in
            let path = "\(fixture.directory)/tokens.sqlite"
            #expect(FileManager.default.createFile(atPath: path, contents: nil))
            chmod(path, 0o644)
            let list = try await fixture.run(["list", "--store", "sqlite:\(path)"])
            #expect(list.status == 0, "\(list)")
            #expect(Self.mode(of: path) == 0o600)
            // SQLite removes -wal and -shm when the last connection closes; if they remain they are 0600 too.
            #expect((Self.mode(of: path + "-wal") ?? 0o600) == 0o600)

            // Another user (nobody) cannot chmod a file it does not own: refused, one line, exit 2.
            guard getuid() == 0, FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv") else { return }
            chmod(fixture.directory, 0o755)
            chmod(path, 0o644)
            let refused = try await CLI.run(
                ["list", "--store", "sqlite:\(path)"], directory: "/",
                launcher: ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"])
            #expect(refused.status == 2, "\(refused)")
            #expect(refused.errorLine.contains("\(path) has mode 0644"), "\(refused)")
            #expect(!refused.errorLine.contains("\n"))
            #expect(Self.mode(of: path) == 0o644)
        }
    }
}
