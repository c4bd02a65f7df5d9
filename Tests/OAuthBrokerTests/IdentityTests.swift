import Foundation
import OAuthBroker
import Testing

@Suite struct IdentityTests {
    @Test(
        "identifiers reject empty, padded, over-long and control-character input",
        arguments: [
            "", " tenant", "tenant ", "ten\u{0}ant", "ten\nant", "a\u{200B}b", String(repeating: "x", count: 129),
        ])
    func rejectsBadTenant(raw: String) {
        #expect(throws: BrokerError.invalidInput) { try TenantID(raw) }
    }

    @Test func acceptsUnicodeAndPunctuation() throws {
        #expect(try TenantID("acme-corp.eu/ünïcode:1").rawValue == "acme-corp.eu/ünïcode:1")
        #expect(try TenantID(String(repeating: "x", count: 128)).rawValue.count == 128)
        #expect(throws: BrokerError.invalidInput) { try ProviderID(String(repeating: "p", count: 65)) }
        #expect(try PrincipalID(String(repeating: "u", count: 256)).rawValue.count == 256)
    }

    @Test func scopeSetNormalizes() throws {
        let scopes = try ScopeSet(["write", "read", "write"])
        #expect(scopes.scopes == ["read", "write"])
        #expect(scopes.normalized == "read write")
        #expect(try ScopeSet(parsing: "b  a", delimiter: " ") == ScopeSet(["a", "b"]))
        #expect(try ScopeSet(parsing: "b,a", delimiter: ",").normalized == "a b")
        #expect(throws: BrokerError.invalidInput) { try ScopeSet(["read", ""]) }
        #expect(throws: BrokerError.invalidInput) { try ScopeSet(["has space"]) }
        #expect(throws: BrokerError.invalidInput) { try ScopeSet(["quote\""]) }
    }

    @Test("store keys have stable fingerprints and storage IDs (fixed vectors)")
    func storeKeyVectors() throws {
        let empty = try StoreKey(provider: "acme", tenant: "t", principal: "p")
        #expect(empty.scopeFingerprint == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        let key = try StoreKey(provider: "acme", tenant: "tenant:1", principal: "user%x", scopes: ["write", "read"])
        #expect(key.scopeFingerprint == "1db268bf1ff3f15c88ab6d41d7e529c360ce90cc889eef9d4aa5561e7114e968")
        #expect(
            key.storageID
                == "acme:tenant%3A1:user%25x:1db268bf1ff3f15c88ab6d41d7e529c360ce90cc889eef9d4aa5561e7114e968")
        // Components that would collide without escaping stay distinct.
        let a = try StoreKey(provider: "acme", tenant: "a:b", principal: "c")
        let b = try StoreKey(provider: "acme", tenant: "a", principal: "b:c")
        #expect(a != b)
        #expect(a.storageID != b.storageID)
    }

    @Test func storeKeyEqualityAndHashing() throws {
        let a = try StoreKey(provider: "acme", tenant: "t", principal: "p", scopes: ["b", "a"])
        let b = try StoreKey(provider: "acme", tenant: "t", principal: "p", scopes: ["a", "b", "a"])
        #expect(a == b)
        #expect(a.hashValue == b.hashValue)
        #expect(Set([a, b]).count == 1)
        let other = try StoreKey(provider: "acme", tenant: "t", principal: "p", scopes: ["a"])
        #expect(a != other)
    }

    @Test func storeKeyCodableRoundTrip() throws {
        let key = try StoreKey(provider: "acme", tenant: "t", principal: "p", scopes: ["x", "y"])
        let data = try JSONEncoder().encode(key)
        let decoded = try JSONDecoder().decode(StoreKey.self, from: data)
        #expect(decoded == key)
        let bad = Data(#"{"provider":"acme","tenant":" t","principal":"p","scopes":[]}"#.utf8)
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(StoreKey.self, from: bad) }
    }

    @Test func providerDescriptorValidation() throws {
        let id = try ProviderID("p")
        let http = URL(string: "http://idp.example.com/token")!
        #expect(throws: BrokerError.invalidConfiguration) {
            try ProviderDescriptor(
                id: id, tokenEndpoint: http, clientID: "c", clientSecret: Secret("s"), grants: [.clientCredentials])
        }
        #expect(throws: BrokerError.invalidConfiguration) {
            try ProviderDescriptor(
                id: id, tokenEndpoint: http, clientID: "c", clientSecret: Secret("s"), grants: [.clientCredentials],
                allowsInsecureLoopback: true)
        }
        let loopback = try ProviderDescriptor(
            id: id, tokenEndpoint: URL(string: "http://127.0.0.1:8080/token")!, clientID: "c",
            clientSecret: Secret("s"), grants: [.clientCredentials], allowsInsecureLoopback: true)
        #expect(loopback.tokenEndpoint.port == 8080)
        #expect(throws: BrokerError.invalidConfiguration) {
            try ProviderDescriptor(
                id: id, tokenEndpoint: URL(string: "https://idp/token")!, clientID: "c", grants: [.clientCredentials])
        }
        #expect(throws: BrokerError.invalidConfiguration) {
            try ProviderDescriptor(
                id: id, tokenEndpoint: URL(string: "https://idp/token")!, clientID: "c", clientSecret: Secret("s"),
                grants: [.authorizationCode])
        }
        #expect(throws: BrokerError.invalidConfiguration) {
            try ProviderDescriptor(
                id: id, tokenEndpoint: URL(string: "https://idp/token")!, clientID: "c", clientSecret: Secret("s"),
                grants: [.clientCredentials], extraTokenParameters: ["grant_type": "x"])
        }
        #expect(ProviderDescriptor.isLoopback(host: "127.0.0.2"))
        #expect(ProviderDescriptor.isLoopback(host: "[::1]"))
        #expect(!ProviderDescriptor.isLoopback(host: "127.example.com"))
        #expect(!ProviderDescriptor.isLoopback(host: "10.0.0.1"))
    }

    @Test func refreshPolicyValidatesAndBoundsLeeway() throws {
        #expect(throws: BrokerError.invalidConfiguration) { try RefreshPolicy(refreshRatio: 0) }
        #expect(throws: BrokerError.invalidConfiguration) { try RefreshPolicy(refreshRatio: 1.5) }
        #expect(throws: BrokerError.invalidConfiguration) { try RefreshPolicy(minimumLeeway: .seconds(-1)) }
        let policy = RefreshPolicy.standard
        // A 5-second token is fresh for at least 2.5 seconds, whatever the jitter.
        for jitter in [0.0, 0.5, 0.999] {
            #expect(policy.leeway(forLifetime: .seconds(5), jitterFraction: jitter) == .milliseconds(2500))
        }
        // An hour-long token: 10% of the lifetime, plus up to 30 s jitter, never less than the minimum.
        #expect(policy.leeway(forLifetime: .seconds(3600), jitterFraction: 0) == .seconds(360))
        #expect(policy.leeway(forLifetime: .seconds(3600), jitterFraction: 0.5) == .seconds(375))
        let short = try RefreshPolicy(refreshRatio: 1, minimumLeeway: .seconds(10), maximumJitter: .zero)
        #expect(short.leeway(forLifetime: .seconds(300), jitterFraction: 0.9) == .seconds(10))
    }

    @Test("initial versions exceed any version a deleted record could have reached")
    func initialVersionsGrow() {
        let earlier = TokenRecord.initialVersion(at: Date(timeIntervalSince1970: 1_800_000_000))
        let later = TokenRecord.initialVersion(at: Date(timeIntervalSince1970: 1_800_000_000.001))
        #expect(later - earlier >= 1 << 20)
        #expect(earlier < UInt64(Int64.max))
    }
}
