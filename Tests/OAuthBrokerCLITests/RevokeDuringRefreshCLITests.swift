import Foundation
import OAuthBroker
import OAuthBrokerTesting
import Testing

/// `oauth-broker revoke` started while another `oauth-broker refresh` holds the key's refresh lease and its request
/// is at the provider: two OS processes sharing a store, the mock rotating refresh tokens and revoking the family
/// when a rotated one is presented again.
@Suite("oauth-broker revoke during a refresh in flight", .timeLimit(.minutes(3)))
struct RevokeDuringRefreshCLITests {
    /// Where the refresh is when `revoke` starts.
    enum Moment: String, CaseIterable, Sendable, CustomStringConvertible {
        /// At the provider, not yet processed (`slowResponse`: the provider waits, then rotates and answers).
        case beforeRotation
        /// Processed (the refresh token rotated), the answer on its way (`slowBody`: the body comes late).
        case afterRotation

        var description: String { rawValue }
    }

    @Test(
        "revoke exits 0, the record ends revoked, and no token of the grant stays live at the provider",
        arguments: ["file", "sqlite"], Moment.allCases)
    func revokeDuringRefresh(store kind: String, moment: Moment) async throws {
        // The mock's defaults: rotation and reuse detection on.
        try await CLIFixture.with { fixture in
            let store = kind == "file" ? fixture.fileStore : "sqlite:\(fixture.directory)/tokens.sqlite"
            let provider = try fixture.writeProvider()
            let (key, grant, seeded) = try await fixture.seedExpiredGrant(store: store)
            let arguments = fixture.keyArguments(provider: provider, store: store)
            let server = fixture.server
            switch moment {
            case .beforeRotation: server.enqueue(.slowResponse(delay: .seconds(2)))
            case .afterRotation: server.enqueue(.slowBody(delay: .seconds(2)))
            }

            async let refreshing = fixture.run(["refresh", "--force"] + arguments, overlapping: true)
            // The refresh sends only once it holds the lease, so from here on it holds it.
            let reached = await eventually {
                switch moment {
                case .beforeRotation: server.statistics.requests(grant: .refreshToken) == 1
                case .afterRotation: server.statistics.refreshGrantsSucceeded == 1
                }
            }
            #expect(reached, "the refresh never reached the provider")
            let rotated = server.activeRefreshToken(inFamilyOf: grant.refreshToken)
            let revoke = try await fixture.run(["revoke"] + arguments, overlapping: true)
            let refresh = try await refreshing

            #expect(revoke.status == 0, "\(revoke)")
            #expect([0, 3].contains(refresh.status), "\(refresh)")
            let record = try #require(try await fixture.openStore(store).record(for: key))
            #expect(record.status == .revoked)
            #expect(!server.isFamilyActive(of: grant.refreshToken))
            #expect(server.activeRefreshToken(inFamilyOf: grant.refreshToken) == nil)
            #expect(!server.isActive(accessToken: record.accessToken))
            // Every refresh token the provider issued was sent to the revocation endpoint by someone: revoke sends
            // the record's (the newest, once it waited for the refresh); a rotated token that never reached the
            // store is revoked by the refresh that got it. (The mock revokes the family for any of its tokens.)
            let issuedButNotStored =
                server.statistics.refreshGrantsSucceeded == 1 && record.refreshToken == grant.refreshToken
            #expect(server.statistics.revocations == (issuedButNotStored ? 2 : 1))
            if refresh.status == 0 {
                #expect(record.refreshToken != grant.refreshToken, "revoke did not wait for the refresh to store")
            }

            var secrets = [
                fixture.clientSecret, grant.accessToken.revealedValue, grant.refreshToken.revealedValue,
                seeded.accessToken.revealedValue, record.accessToken.revealedValue,
            ]
            secrets += [record.refreshToken, rotated].compactMap { $0?.revealedValue }
            expectNoSecrets(revoke, secrets)
            expectNoSecrets(refresh, secrets)
        }
    }
}
