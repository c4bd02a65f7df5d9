import Foundation
import OAuthBroker
import OAuthBrokerTesting
import Testing

@Suite("Stored tokens that would break the Authorization header")
struct StoredHeaderInjectionTests {
    static let tampered: [(accessToken: String, tokenType: String)] = [
        ("at-ok\r\nX-Injected: 1", "Bearer"), ("at ok", "Bearer"), ("at-ok", "Bearer\r\nX-Injected: 1"),
        ("at-\u{E9}", "Bearer"), ("at-ok", "Bear er"),
    ]

    @Test("a stored record with a CR/LF, space or non-ASCII token or type is refreshed, never served", arguments: 0..<5)
    func tamperedRecordIsReplaced(index: Int) async throws {
        let clock = TestClock()
        let store = MemoryStore()
        let transport = FakeTransport()
        let broker = Fixtures.broker(store: store, transport: transport, clock: clock)
        let key = Fixtures.key()
        let (accessToken, tokenType) = Self.tampered[index]
        let record = TokenRecord(
            accessToken: Secret(accessToken), refreshToken: Secret("rt-seed"), tokenType: tokenType,
            scopes: key.scopes, issuedAt: clock.now, expiresAt: clock.now.addingTimeInterval(3600),
            version: TokenRecord.initialVersion(at: clock.now))
        _ = try await store.insert(record, for: key)

        let token = try await broker.accessToken(for: key)
        #expect(token.value != Secret(accessToken))
        let header = token.authorizationHeaderValue()
        #expect(!header.utf8.contains { $0 < 0x20 || $0 >= 0x7F }, "the header value holds a control or non-ASCII byte")
        #expect(header.split(separator: " ").count == 2)
        #expect(transport.requestCount(grant: .refreshToken) == 1, "the tampered record was not replaced by a refresh")
        #expect(try await store.record(for: key)?.accessToken == token.value)
    }
}
