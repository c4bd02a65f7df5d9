import Foundation
import OAuthBroker
import OAuthBrokerTesting
import Testing

@Suite("SealingStoreCodec")
struct SealingStoreCodecTests {
    static let key = Fixtures.key(tenant: "tenant-a", principal: "alice")
    static let otherKey = Fixtures.key(tenant: "tenant-b", principal: "alice")
    static let material1 = (0..<32).map { UInt8($0) &* 7 &+ 1 }
    static let material2 = (0..<32).map { UInt8($0) &* 13 &+ 5 }

    static func codec(_ ids: [String] = ["k1"], acceptsPlain: Bool = true) throws -> SealingStoreCodec {
        let keys = try ids.map { id in
            try SealingStoreCodec.Key(id: id, bytes: id == "k2" ? material2 : material1)
        }
        return try SealingStoreCodec(keys: keys, options: .init(acceptsPlainBlobs: acceptsPlain))
    }

    static func record() -> TokenRecord {
        TokenRecord(
            accessToken: Secret("access-token-ABCDEF"), refreshToken: Secret("refresh-token-GHIJKL"),
            scopes: ["read"], issuedAt: Date(timeIntervalSinceReferenceDate: 800_000_000.5),
            expiresAt: Date(timeIntervalSinceReferenceDate: 800_003_600.25), idToken: Secret("id-token-MNOPQR"),
            extraFields: ["tenant_hint": .string("x")], version: 1_831_975_315_128_320)
    }

    static func session() -> AuthorizationSession {
        AuthorizationSession(
            state: Secret("state-STUVWX"), codeVerifier: Secret("verifier-YZ0123456789"),
            redirectURI: "https://app.example/cb", key: key,
            createdAt: Date(timeIntervalSinceReferenceDate: 800_000_000),
            expiresAt: Date(timeIntervalSinceReferenceDate: 800_000_600))
    }

    static let secrets = [
        "access-token-ABCDEF", "refresh-token-GHIJKL", "id-token-MNOPQR", "state-STUVWX", "verifier-YZ0123456789",
    ]

    static func contains(_ haystack: [UInt8], _ needle: String) -> Bool {
        let bytes = Array(needle.utf8)
        guard bytes.count <= haystack.count else { return false }
        return (0...(haystack.count - bytes.count)).contains { haystack[$0..<($0 + bytes.count)].elementsEqual(bytes) }
    }

    @Test("records and sessions round-trip, and the sealed bytes hold no token, state or verifier")
    func roundTrip() throws {
        let codec = try Self.codec()
        let blob = try codec.encode(Self.record(), for: Self.key)
        #expect(try codec.decodeRecord(blob, for: Self.key) == Self.record())
        let sessionBlob = try codec.encode(Self.session())
        #expect(try codec.decodeSession(sessionBlob, id: Self.session().id) == Self.session())
        for secret in Self.secrets {
            #expect(!Self.contains(blob + sessionBlob, secret), "\(secret) is readable in a sealed blob")
        }
        // The plain codec's blobs do contain them: the check above can fail.
        let plain = try JSONStoreCodec().encode(Self.record(), for: Self.key)
        #expect(Self.contains(plain, "refresh-token-GHIJKL"))
        #expect(blob[0] == SealingStoreCodec.formatTag && blob[1] == 1 && blob[2] == 2)
        #expect(Array(blob[3..<5]) == Array("k1".utf8))
        #expect(blob.count == 5 + 12 + plain.count + 16)
        #expect(try SealingStoreCodec.keyID(ofBlob: blob) == "k1")
        #expect(try SealingStoreCodec.keyID(ofBlob: plain) == nil)
    }

    @Test("every seal uses a fresh nonce")
    func freshNonces() throws {
        let codec = try Self.codec()
        let first = try codec.encode(Self.record(), for: Self.key)
        let second = try codec.encode(Self.record(), for: Self.key)
        #expect(first[5..<17] != second[5..<17])
        #expect(first != second)
    }

    @Test("a change to any byte of a sealed blob makes it fail to open", arguments: ["record", "session"])
    func tamperEveryByte(_ kind: String) throws {
        let codec = try Self.codec()
        let blob = try kind == "record" ? codec.encode(Self.record(), for: Self.key) : codec.encode(Self.session())
        for index in blob.indices {
            var tampered = blob
            tampered[index] ^= 0x01
            let error = #expect(throws: BrokerError.self, "byte \(index) of \(blob.count) was changed unnoticed") {
                if kind == "record" {
                    _ = try codec.decodeRecord(tampered, for: Self.key)
                } else {
                    _ = try codec.decodeSession(tampered, id: Self.session().id)
                }
            }
            // Bytes 3 and 4 are the key id: a changed id names a key the ring lacks. A longer id length (byte 2)
            // takes the nonce's first byte into the id: malformed, or (if it is an id character) an unknown id.
            let expected: Set<BrokerError.Code> =
                (3...4).contains(index)
                ? [.sealingKeyMissing] : index == 2 ? [.storeCorrupted, .sealingKeyMissing] : [.storeCorrupted]
            #expect(error.map { expected.contains($0.code) } == true, "byte \(index): \(String(describing: error))")
            for secret in Self.secrets { #expect(error?.debugDescription.contains(secret) == false) }
        }
        // Truncations fail too.
        for length in [0, 1, 2, 3, 5, 16, 32, blob.count - 1] {
            #expect(throws: BrokerError.storeCorrupted) {
                if kind == "record" {
                    _ = try codec.decodeRecord(Array(blob.prefix(length)), for: Self.key)
                } else {
                    _ = try codec.decodeSession(Array(blob.prefix(length)), id: Self.session().id)
                }
            }
        }
    }

    @Test("a blob moved to another key, another session id, or between records and sessions fails to open")
    func movedBlob() throws {
        let codec = try Self.codec()
        let blob = try codec.encode(Self.record(), for: Self.key)
        let moved = #expect(throws: BrokerError.storeCorrupted) { try codec.decodeRecord(blob, for: Self.otherKey) }
        #expect(moved?.message.contains("k1") == true)
        let sessionBlob = try codec.encode(Self.session())
        #expect(throws: BrokerError.storeCorrupted) {
            try codec.decodeSession(
                sessionBlob, id: AuthorizationSession.id(forState: "another-state", provider: Self.key.provider))
        }
        // A session blob under a record key whose storage ID equals the session id still fails: purpose differs.
        #expect(throws: BrokerError.storeCorrupted) { try codec.decodeRecord(sessionBlob, for: Self.key) }
        #expect(throws: BrokerError.storeCorrupted) { try codec.decodeSession(blob, id: Self.session().id) }
    }

    @Test("a key id the ring lacks is sealingKeyMissing naming the id; a wrong key for a known id is storeCorrupted")
    func missingAndWrongKey() throws {
        let blob = try Self.codec(["k1"]).encode(Self.record(), for: Self.key)
        let missing = #expect(throws: BrokerError.sealingKeyMissing) {
            try Self.codec(["k2"]).decodeRecord(blob, for: Self.key)
        }
        #expect(missing?.message.contains("'k1'") == true, "\(String(describing: missing))")
        let wrong = try SealingStoreCodec(keys: [.init(id: "k1", bytes: Self.material2)])
        #expect(throws: BrokerError.storeCorrupted) { try wrong.decodeRecord(blob, for: Self.key) }
        let sessionBlob = try Self.codec(["k1"]).encode(Self.session())
        #expect(throws: BrokerError.sealingKeyMissing) {
            try Self.codec(["k2"]).decodeSession(sessionBlob, id: Self.session().id)
        }
    }

    @Test("two keys: the first seals, both open; after rotation the old key alone cannot open new blobs")
    func rotation() throws {
        let old = try Self.codec(["k1"])
        let rotated = try Self.codec(["k2", "k1"])
        #expect(rotated.currentKeyID == "k2")
        let oldBlob = try old.encode(Self.record(), for: Self.key)
        #expect(try rotated.decodeRecord(oldBlob, for: Self.key) == Self.record())
        let newBlob = try rotated.encode(Self.record(), for: Self.key)
        #expect(try SealingStoreCodec.keyID(ofBlob: newBlob) == "k2")
        #expect(try Self.codec(["k2"]).decodeRecord(newBlob, for: Self.key) == Self.record())
        #expect(throws: BrokerError.sealingKeyMissing) { try old.decodeRecord(newBlob, for: Self.key) }
    }

    @Test("plain format-1 blobs are still read, unless refused")
    func plainBlobs() throws {
        let plain = try JSONStoreCodec().encode(Self.record(), for: Self.key)
        let plainSession = try JSONStoreCodec().encode(Self.session())
        #expect(try Self.codec().decodeRecord(plain, for: Self.key) == Self.record())
        #expect(try Self.codec().decodeSession(plainSession, id: Self.session().id) == Self.session())
        let strict = try Self.codec(acceptsPlain: false)
        #expect(throws: BrokerError.storeCorrupted) { try strict.decodeRecord(plain, for: Self.key) }
        #expect(throws: BrokerError.storeCorrupted) { try strict.decodeSession(plainSession, id: Self.session().id) }
    }

    @Test("an unknown sealed format version is storeCorrupted")
    func unknownVersion() throws {
        var blob = try Self.codec().encode(Self.record(), for: Self.key)
        blob[1] = 2
        let error = #expect(throws: BrokerError.storeCorrupted) { try Self.codec().decodeRecord(blob, for: Self.key) }
        #expect(error?.message.contains("version 2") == true)
    }

    @Test("key material never appears in description, debugDescription, dump or errors")
    func noKeyMaterialPrinted() throws {
        let codec = try Self.codec(["k2", "k1"])
        var dumped = ""
        dump(codec, to: &dumped)
        dump(codec.keys, to: &dumped)
        let texts = [
            codec.description, codec.debugDescription, String(describing: codec), String(reflecting: codec.keys[0]),
            dumped,
        ]
        for material in [Self.material1, Self.material2] {
            let forms = [
                Data(material).base64EncodedString(), material.map { String(format: "%02x", $0) }.joined(),
                material.map { String($0) }.joined(separator: ", "),
            ]
            for text in texts {
                for form in forms { #expect(!text.contains(form), "key material printed: \(text)") }
            }
        }
        #expect(codec.description == "SealingStoreCodec(keys: [k2, k1])")
        #expect(dumped.contains("k1") && dumped.contains("k2"))
    }

    @Test("invalid key rings are invalidConfiguration")
    func invalidRings() throws {
        #expect(throws: BrokerError.invalidConfiguration) { try SealingStoreCodec(keys: []) }
        #expect(throws: BrokerError.invalidConfiguration) { try SealingStoreCodec.Key(id: "k1", bytes: [1, 2, 3]) }
        #expect(throws: BrokerError.invalidConfiguration) {
            try SealingStoreCodec.Key(id: "k1", bytes: Array(repeating: 0, count: 16))
        }
        for id in ["", "has space", "slash/", "ü", String(repeating: "a", count: 65)] {
            #expect(throws: BrokerError.invalidConfiguration) { try SealingStoreCodec.Key.random(id: id) }
        }
        #expect(try SealingStoreCodec.Key.random(id: String(repeating: "a", count: 64)).id.count == 64)
        #expect(try SealingStoreCodec.Key.random(id: "A.z_9-").id == "A.z_9-")
        #expect(throws: BrokerError.invalidConfiguration) {
            try SealingStoreCodec(keys: [.random(id: "same"), .random(id: "same")])
        }
    }
}
