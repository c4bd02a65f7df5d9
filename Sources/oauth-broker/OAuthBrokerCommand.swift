import ArgumentParser
import OAuthBrokerCurl

/// The root command: `oauth-broker <subcommand>`.
struct OAuthBrokerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "oauth-broker",
        abstract: "Get, refresh, revoke and list OAuth 2.0 tokens kept in a shared store.",
        discussion: """
            --provider FILE is a JSON provider file (see README.md, "Command-line tool"); string values may be \
            ${env:NAME}. --store URL is memory:, file:PATH, sqlite:PATH, redis://[user:pass@]host:port[/db] \
            or postgres://user[:pass]@host:port/db. \
            Timeouts (--request-timeout, --total-timeout, --lease-ttl, --store-write-timeout) are seconds written \
            5 or 0.25: digits, optionally a point and up to 3 more; no sign, no exponent; at most 86400. \
            --store-keys FILE (or $OAUTH_BROKER_STORE_KEYS) seals records and sessions with AES-256-GCM: one \
            'KEY_ID BASE64' line per key (32 bytes), the first seals, all open; rekey re-seals under the first. \
            --transport curl|ahc picks the HTTP client (libcurl, the default, or AsyncHTTPClient); --log-level LEVEL \
            logs to standard error (never a token or secret).

            Exit status: 0 success; 1 other failure; 2 usage or configuration error (bad flag, provider file, \
            store URL or key file; a record sealed under a key id the key file lacks; invalid_client, \
            unauthorized_client, unsupported_grant_type, invalid_scope); 3 a user must \
            authorize again (nothing stored, invalid_grant, revoked, unknown or used state, access_denied); \
            4 the provider or the store is temporarily unavailable (after retries).
            """,
        version: swiftOAuthBrokerVersion,
        subcommands: [
            DemoCommand.self, TokenCommand.self, AuthorizeCommand.self, ExchangeCommand.self, RefreshCommand.self,
            RevokeCommand.self, ListCommand.self, RekeyCommand.self,
        ])
}
