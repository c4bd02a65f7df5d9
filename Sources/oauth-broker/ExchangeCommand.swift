import ArgumentParser
import Foundation
import OAuthBroker
import OAuthBrokerTools

/// `oauth-broker exchange`: completes an authorization from the callback URL.
struct ExchangeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "exchange",
        abstract: "Complete an authorization from the URL the browser landed on.",
        discussion: """
            Checks the callback's state against the stored session (single use), exchanges the code with the PKCE \
            verifier and stores the tokens. An unknown, forged, expired or already used state, a callback carrying \
            error=access_denied, one whose iss is not the provider file's issuer (RFC 9207; the session is kept), \
            one that did not arrive on the session's redirect URI, or a state another provider started (that \
            session is kept), exits with 3 before any token request.
            """)

    @OptionGroup var brokerOptions: BrokerOptions

    @Option(help: ArgumentHelp("The full callback URL, with its code and state.", valueName: "url"))
    var callback: String

    func run() async throws {
        let context = try await brokerOptions.makeContext()
        guard let url = URL(string: callback), url.scheme != nil, url.query != nil else {
            throw BrokerError(.invalidInput, "--callback must be the full URL the browser landed on, with its query")
        }
        let token = try await context.broker.completeAuthorization(callbackURL: url)
        let record = try await context.broker.record(for: token.key)
        let refresh = record?.refreshToken == nil ? "no refresh token" : "refresh token stored"
        Output.line(
            "authorized \(describe(token.key)): version \(token.version), \(describe(expiry: token.expiresAt)), "
                + refresh)
    }
}
