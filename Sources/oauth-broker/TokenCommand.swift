import ArgumentParser
import Foundation
import OAuthBroker
import OAuthBrokerTools

/// `oauth-broker token`: prints a valid access token.
struct TokenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "token",
        abstract: "Print a valid access token for a key.",
        discussion: """
            A fresh stored token is printed as is; a stale or expired one is refreshed first (one refresh, even \
            across processes sharing the store); with nothing stored, a token is fetched by client credentials when \
            the provider allows that grant (else exit 3: run 'oauth-broker authorize').
            """)

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case json, raw
    }

    @OptionGroup var brokerOptions: BrokerOptions
    @OptionGroup var keyOptions: KeyOptions

    @Option(help: "json: access_token, token_type, expires_at (RFC 3339) and scope; raw: the token alone.")
    var format: Format = .json

    func run() async throws {
        let context = try await brokerOptions.makeContext()
        let key = try keyOptions.key(for: context.broker)
        let token = try await context.broker.accessToken(for: key)
        switch format {
        case .raw:
            Output.line(token.value.revealedValue)
        case .json:
            Output.standardOutput(TokenJSON(token: token).text)
        }
    }
}

/// The JSON object `token --format json` prints.
struct TokenJSON: Encodable {
    let accessToken: String
    let tokenType: String
    let expiresAt: String?
    let scope: String

    init(token: AccessToken) {
        accessToken = token.value.revealedValue
        tokenType = token.tokenType
        expiresAt = token.expiresAt.map(RFC3339.string(from:))
        scope = token.scopes.normalized
    }

    private enum CodingKeys: String, CodingKey {
        case accessToken = "access_token"
        case tokenType = "token_type"
        case expiresAt = "expires_at"
        case scope
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(accessToken, forKey: .accessToken)
        try container.encode(tokenType, forKey: .tokenType)
        try container.encode(expiresAt, forKey: .expiresAt)  // `null` when unknown
        try container.encode(scope, forKey: .scope)
    }

    var text: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let data = (try? encoder.encode(self)) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self) + "\n"
    }
}
