import Foundation
import OAuthBroker
import OAuthBrokerTesting
import Testing

/// A 200 refresh response with a usable token and an odd minor field stores the rotated tokens.
@Suite struct LenientRefreshResponseTests {
    static let refreshOnly = Fixtures.provider(grants: [.authorizationCode, .refreshToken])

    @Test("a rotated refresh token is stored although expires_in and scope are wrong")
    func oddMinorFieldsKeepTheRotation() async throws {
        let clock = TestClock()
        let store = MemoryStore()
        let key = Fixtures.key()
        try await Fixtures.seed(store, key: key, clock: clock, issuedAgo: .seconds(7200))
        let deep = String(repeating: "[", count: 600) + String(repeating: "]", count: 600)
        let body = #"""
            {"access_token":"at-rotated","token_type":"Bearer","refresh_token":"rt-rotated","expires_in":-1,
             "scope":["read"],"deep":\#(deep),"tenant_hint":"t"}
            """#
        let transport = FakeTransport()
        transport.enqueue(
            .response(FakeTransport.rawResponse(status: 200, contentType: "application/json", body: body)))
        let broker = Fixtures.broker(provider: Self.refreshOnly, store: store, transport: transport, clock: clock)
        let token = try await broker.accessToken(for: key)
        #expect(token.value == Secret("at-rotated"))
        let stored = try #require(try await store.record(for: key))
        #expect(stored.accessToken == Secret("at-rotated"))
        #expect(stored.refreshToken == Secret("rt-rotated"))
        #expect(stored.expiresAt == clock.now.addingTimeInterval(3600), "the default lifetime")
        #expect(stored.scopes == key.scopes)
        #expect(stored.extraFields == ["tenant_hint": .string("t")])
        #expect(try JSONStoreCodec().decodeRecord(try JSONStoreCodec().encode(stored, for: key), for: key) == stored)
    }

    @Test("a refresh_token of the wrong type keeps the old refresh token")
    func wrongRefreshTokenTypeKeepsTheOldOne() async throws {
        let clock = TestClock()
        let store = MemoryStore()
        let key = Fixtures.key()
        try await Fixtures.seed(store, key: key, clock: clock, issuedAgo: .seconds(7200))
        let transport = FakeTransport()
        transport.enqueue(
            .response(
                FakeTransport.jsonResponse(
                    status: 200,
                    object: ["access_token": "at-2", "token_type": "Bearer", "refresh_token": 12, "expires_in": 60])))
        let broker = Fixtures.broker(provider: Self.refreshOnly, store: store, transport: transport, clock: clock)
        #expect(try await broker.accessToken(for: key).value == Secret("at-2"))
        let stored = try #require(try await store.record(for: key))
        #expect(stored.refreshToken == Secret("rt-seed"))
        #expect(stored.expiresAt == clock.now.addingTimeInterval(60))
    }
}
