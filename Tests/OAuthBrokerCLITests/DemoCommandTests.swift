import Foundation
import Testing

@Suite("oauth-broker demo")
struct DemoCommandTests {
    @Test("demo runs offline, exits with 0, shows one token request for 1000 callers and never a token")
    func demo() async throws {
        let result = try await CLI.run(["demo"], timeout: .seconds(120))
        #expect(result.status == 0, "\(result)")
        #expect(result.stdout.contains("1. Client credentials for two tenants"))
        #expect(result.stdout.contains("replaying the callback: refused"))
        #expect(result.stdout.contains("refresh token rotated: true"))
        #expect(result.stdout.contains("callers answered: 1000, distinct tokens: 1"))
        #expect(result.stdout.contains("token requests at the server: 1\n"))
        #expect(result.stdout.contains("demo/initech/reporting/"))
        // The mock server's tokens start with these prefixes; none may be printed.
        for prefix in ["mat_", "mrt_", "mac_"] { #expect(!result.allOutput.contains(prefix)) }
        #expect(result.stderr.isEmpty)
    }
}
