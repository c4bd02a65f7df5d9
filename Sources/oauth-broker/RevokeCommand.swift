import ArgumentParser
import Foundation
import OAuthBroker
import OAuthBrokerTools

/// `oauth-broker revoke`: revokes the grant stored for a key.
struct RevokeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "revoke",
        abstract: "Mark the stored record revoked and revoke its token at the provider (RFC 7009).",
        discussion: """
            The record is marked revoked first, so it is never served or refreshed again; then the refresh token \
            (else the access token) is sent to revocation_endpoint, if the provider has one. With nothing stored \
            the command succeeds and says so. If the endpoint fails, the record stays revoked locally and the \
            command exits with the endpoint's failure (4 when it is temporarily unavailable).
            """)

    @OptionGroup var brokerOptions: BrokerOptions
    @OptionGroup var keyOptions: KeyOptions

    func run() async throws {
        let context = try await brokerOptions.makeContext()
        let broker = context.broker
        let key = try keyOptions.key(for: broker)
        guard try await broker.record(for: key) != nil else {
            Output.line("nothing stored for \(describe(key)); nothing to revoke")
            return
        }
        let hasEndpoint = broker.provider.revocationEndpoint != nil
        do {
            try await broker.revoke(key)
        } catch let error as BrokerError where ![.storeUnavailable, .storeFailed, .storeCorrupted].contains(error.code)
        {
            // The store call succeeded; the revocation endpoint failed after the record was marked revoked.
            throw BrokerError(
                error.code,
                "the record was marked revoked locally, but the revocation endpoint failed: \(error.message)",
                oauthError: error.oauthError, status: error.status, retryAfter: error.retryAfter,
                provider: error.provider, key: key)
        }
        if hasEndpoint {
            Output.line("revoked \(describe(key)): marked revoked in the store and revoked at the provider")
        } else {
            Output.line(
                "revoked \(describe(key)): marked revoked in the store (the provider has no revocation_endpoint)")
        }
    }
}
