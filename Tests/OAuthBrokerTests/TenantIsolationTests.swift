import Foundation
import OAuthBroker
import OAuthBrokerTesting
import Testing

@Suite("Tenant isolation")
struct TenantIsolationTests {
    // MARK: - Identifiers and storage IDs

    @Test("canonically equivalent identifiers are different identifiers (byte-exact equality, hashing and order)")
    func identifiersAreByteExact() throws {
        let composed = try PrincipalID("jos\u{E9}")
        let decomposed = try PrincipalID("jose\u{301}")
        #expect(composed.rawValue == decomposed.rawValue, "Swift's String calls them equal; the premise of the test")
        #expect(composed != decomposed)
        #expect(Set([composed, decomposed]).count == 2)
        #expect((composed < decomposed) != (decomposed < composed))
        let tenants = [try TenantID("jos\u{E9}"), try TenantID("jose\u{301}")]
        #expect(Set(tenants).count == 2)
        let a = try StoreKey(provider: "acme", tenant: "t", principal: "jos\u{E9}")
        let b = try StoreKey(provider: "acme", tenant: "t", principal: "jose\u{301}")
        #expect(a != b)
        #expect(a.storageID != b.storageID)
        #expect(Set([a, b]).count == 2)
    }

    @Test("storage IDs of ASCII keys are unchanged; other bytes, % and : are percent-encoded (fixed vectors)")
    func storageIDVectors() throws {
        let fingerprint = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        let vectors: [(tenant: String, principal: String, id: String)] = [
            ("t", "p", "acme:t:p:\(fingerprint)"),
            ("Acme Corp", "user@example.com", "acme:Acme Corp:user@example.com:\(fingerprint)"),
            ("a:b", "c%d", "acme:a%3Ab:c%25d:\(fingerprint)"),
            ("t", "jos\u{E9}", "acme:t:jos%C3%A9:\(fingerprint)"),
            ("t", "jose\u{301}", "acme:t:jose%CC%81:\(fingerprint)"),
            ("x:\u{301}b", "\u{301}c", "acme:x%3A%CC%81b:%CC%81c:\(fingerprint)"),
            ("x", "\u{301}b:\u{301}c", "acme:x:%CC%81b%3A%CC%81c:\(fingerprint)"),
            ("🔑", "ü", "acme:%F0%9F%94%91:%C3%BC:\(fingerprint)"),
        ]
        for vector in vectors {
            let key = try StoreKey(provider: "acme", tenant: vector.tenant, principal: vector.principal)
            #expect(key.storageID == vector.id)
            #expect(key.storageID.utf8.allSatisfy { $0 >= 0x20 && $0 < 0x7F }, "storage IDs are printable ASCII")
        }
    }

    @Test("distinct keys never share a storage ID: 8,000 random identifier pairs over a hostile alphabet")
    func storageIDsAreInjective() throws {
        // Pieces chosen to collide under Unicode-aware comparison or a Character-based escape.
        let alphabet = [
            "a", "b", "e", ":", "%", "%3A", "%25", "\u{301}", "\u{E9}", ":\u{301}", "\u{308}", "ü", "u\u{308}",
            "🔑", "\u{1F1E9}\u{1F1EA}", " ", "/", "\u{FB01}", "\u{212B}", "\u{C5}", "A\u{30A}", "{", "}",
        ]
        var generator = SplitMix64(seed: 0x5EED_1D5)
        func randomIdentifier() -> String {
            var text = ""
            repeat {
                text = (0..<Int.random(in: 1...6, using: &generator)).map { _ in
                    alphabet.randomElement(using: &generator)!
                }.joined()
            } while text.unicodeScalars.first == " " || text.unicodeScalars.last == " "
            return text
        }
        var seen: [String: [UInt8]] = [:]
        for _ in 0..<8_000 {
            let tenant = randomIdentifier()
            let principal = randomIdentifier()
            let key = try StoreKey(provider: "p:\u{301}", tenant: tenant, principal: principal)
            let components = Array(tenant.utf8) + [0xFF] + Array(principal.utf8)
            if let earlier = seen[key.storageID] {
                #expect(earlier == components, "two different keys share the storage ID \(key.storageID)")
            }
            seen[key.storageID] = components
            // The ID splits back into exactly its components (so no two distinct keys can produce it).
            let parts = key.storageID.split(separator: ":", omittingEmptySubsequences: false)
            #expect(parts.count == 4)
            #expect(Self.percentDecoded(parts[1]) == Array(tenant.utf8))
            #expect(Self.percentDecoded(parts[2]) == Array(principal.utf8))
        }
        #expect(seen.count > 6_000, "the generator produced too few distinct pairs to mean anything")
    }

    private static func percentDecoded(_ text: Substring) -> [UInt8] {
        var out: [UInt8] = []
        var bytes = Array(text.utf8)[...]
        while let byte = bytes.popFirst() {
            if byte == UInt8(ascii: "%"), bytes.count >= 2,
                let value = UInt8(String(decoding: bytes.prefix(2), as: UTF8.self), radix: 16)
            {
                out.append(value)
                bytes = bytes.dropFirst(2)
            } else {
                out.append(byte)
            }
        }
        return out
    }

    // MARK: - The tenant-scoped view

    @Test("a tenant's view serves its own keys and refuses another tenant's, touching nothing")
    func scopedViewRefusesOtherTenants() async throws {
        let clock = TestClock()
        let store = MemoryStore()
        let transport = FakeTransport()
        let broker = Fixtures.broker(store: store, transport: transport, clock: clock)
        let acme = try broker.tenant("acme")
        let other = try broker.tenant("globex")
        let mine = try acme.key(principal: "alice", scopes: ["read"])
        let theirs = try other.key(principal: "alice", scopes: ["read"])
        try await Fixtures.seed(store, key: mine, clock: clock, accessToken: "at-acme")
        let seeded = try await Fixtures.seed(store, key: theirs, clock: clock, accessToken: "at-globex")

        #expect(try await acme.accessToken(for: mine).value == Secret("at-acme"))
        #expect(acme.contains(mine) && !acme.contains(theirs))
        #expect(try await acme.keys() == [mine])

        func refused(_ operation: () async throws -> Void) async {
            await #expect(throws: BrokerError.self) {
                do { try await operation() } catch let error as BrokerError {
                    #expect(error.code == .keyOutsideScope)
                    throw error
                }
            }
        }
        await refused { _ = try await acme.accessToken(for: theirs) }
        await refused { _ = try acme.cachedAccessToken(for: theirs) }
        await refused { _ = try await acme.record(for: theirs) }
        await refused { _ = try await acme.refresh(theirs, force: true) }
        await refused { _ = try await acme.invalidate(Secret("at-globex"), for: theirs) }
        await refused { _ = try await acme.revoke(theirs) }
        await refused { _ = try await acme.introspect(theirs) }
        await refused { try acme.evictCachedToken(for: theirs) }
        await refused {
            _ = try await acme.startAuthorization(for: theirs, redirectURI: "https://app.example/callback")
        }
        #expect(transport.requestCount == 0, "a refused call reached the provider")
        #expect(try await store.record(for: theirs) == seeded, "a refused call changed another tenant's record")
    }

    @Test("a view of jos\\u{E9} cannot reach jose\\u{301}'s keys, and another provider's key is outside every view")
    func scopedViewComparesBytes() async throws {
        let clock = TestClock()
        let store = MemoryStore()
        let broker = Fixtures.broker(store: store, clock: clock)
        let composed = try broker.tenant("jos\u{E9}")
        let decomposed = try broker.tenant("jose\u{301}")
        let theirs = try decomposed.key(principal: "u")
        try await Fixtures.seed(store, key: theirs, clock: clock)
        #expect(!composed.contains(theirs))
        await #expect(throws: BrokerError.self) { _ = try await composed.accessToken(for: theirs) }
        #expect(try await composed.keys() == [])
        #expect(try await decomposed.keys() == [theirs])

        let otherProvider = try StoreKey(provider: "not-acme", tenant: "jos\u{E9}", principal: "u")
        #expect(!composed.contains(otherProvider))
        await #expect(throws: BrokerError.self) { _ = try await composed.record(for: otherProvider) }
    }

    @Test("a view's event stream carries only its tenant's events")
    func scopedEvents() async throws {
        let clock = TestClock()
        let broker = Fixtures.broker(clock: clock)
        let acme = try broker.tenant("acme")
        let events = acme.events()
        _ = try await broker.accessToken(for: Fixtures.key(tenant: "globex"))
        let mine = try acme.key(principal: "svc", scopes: ["read"])
        _ = try await acme.accessToken(for: mine)
        var iterator = events.makeAsyncIterator()
        let first = await iterator.next()
        #expect(first?.key == mine, "the first event a view sees is its own tenant's")
    }

    @Test("a scoped view's refusal carries no token and names the view's tenant")
    func refusalIsRedacted() async throws {
        let broker = Fixtures.broker()
        let acme = try broker.tenant("acme")
        let theirs = Fixtures.key(tenant: "globex")
        do {
            _ = try await acme.accessToken(for: theirs)
            Issue.record("no error")
        } catch let error as BrokerError {
            #expect(error.code == .keyOutsideScope)
            #expect("\(error)".contains("acme"))
            #expect(!error.code.isTransient)
        }
    }
}

/// A small seeded generator so the property test is repeatable.
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
