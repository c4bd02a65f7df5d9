import ArgumentParser
import Foundation
import OAuthBroker
import OAuthBrokerTools

/// `oauth-broker refresh`: refreshes a stale token, or any token with `--force`.
struct RefreshCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "refresh",
        abstract: "Refresh the token stored for a key if it is stale or expired (now, with --force).",
        discussion: """
            Freshness follows the broker's refresh policy. The refresh holds the store's lease, so processes \
            sharing the store never refresh one key twice. Prints the outcome, never the token.
            """)

    @OptionGroup var brokerOptions: BrokerOptions
    @OptionGroup var keyOptions: KeyOptions

    @Flag(help: "Refresh even a fresh token.")
    var force = false

    func run() async throws {
        let context = try await brokerOptions.makeContext()
        let key = try keyOptions.key(for: context.broker)
        let before = try await context.broker.record(for: key)
        let token = try await context.broker.refresh(key, force: force)
        let expiry = describe(expiry: token.expiresAt)
        if let before, before.version == token.version {
            Output.line(
                "not refreshed: the token for \(describe(key)) is still fresh (version \(token.version), \(expiry)); "
                    + "use --force to refresh anyway")
        } else if let before {
            Output.line("refreshed \(describe(key)): version \(before.version) → \(token.version), \(expiry)")
        } else {
            Output.line("obtained a new token for \(describe(key)): version \(token.version), \(expiry)")
        }
    }
}
