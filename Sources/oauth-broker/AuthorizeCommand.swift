import ArgumentParser
import Foundation
import OAuthBroker
import OAuthBrokerTools

/// `oauth-broker authorize`: starts an authorization-code flow with PKCE.
struct AuthorizeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "authorize",
        abstract: "Print the URL a user opens to authorize, and store the pending session.",
        discussion: """
            The URL carries a fresh state and a PKCE S256 challenge; the verifier stays in the store. After the \
            user approves, pass the URL the browser lands on to 'oauth-broker exchange --callback'. The session \
            lives in the store, so use file:, sqlite:, redis:// or postgres:// (memory: forgets it when this command exits).
            """)

    // No timeouts: starting an authorization only writes a session to the store; nothing goes to the provider.
    @OptionGroup var providerStoreOptions: ProviderStoreOptions
    @OptionGroup var keyOptions: KeyOptions

    @Option(help: "The registered redirect URI; by default redirect_uri from the provider file.")
    var redirectURI: String?

    func run() async throws {
        let context = try await providerStoreOptions.makeContext()
        let key = try keyOptions.key(for: context.broker)
        guard let redirectURI = redirectURI ?? context.providerFile.redirectURI else {
            throw BrokerError(
                .invalidConfiguration, "no redirect URI: pass --redirect-uri or set redirect_uri in the provider file")
        }
        let request = try await context.broker.startAuthorization(for: key, redirectURI: redirectURI)
        Output.line(request.url.absoluteString)
        if context.storeURL.kind == .memory {
            Output.error(
                "oauth-broker: note: the memory: store forgets this session when the command exits; "
                    + "use file:, sqlite:, redis:// or postgres:// to complete it with 'oauth-broker exchange'")
        } else {
            Output.error(
                "oauth-broker: open the URL, approve, then run 'oauth-broker exchange --callback URL' with the URL "
                    + "the browser lands on (before \(RFC3339.string(from: request.expiresAt)))")
        }
    }
}
