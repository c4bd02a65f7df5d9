import Foundation
import OAuthBroker
import Testing

@Suite("JSONStoreCodec")
struct JSONStoreCodecTests {
    let codec = JSONStoreCodec()
    let key = StoreKey(
        provider: try! ProviderID("p"), tenant: try! TenantID("t"), principal: try! PrincipalID("u"),
        scopes: ["read"])

    func sampleRecord() -> TokenRecord {
        TokenRecord(
            accessToken: Secret("access \"quoted\" ü"), refreshToken: Secret("refresh"), tokenType: "Bearer",
            scopes: ["read", "write"], issuedAt: Date(), expiresAt: Date().addingTimeInterval(3599.123456789),
            idToken: Secret("id"), extraFields: ["n": .number(1.5), "s": .string("x"), "o": .object(["a": .null])],
            version: TokenRecord.initialVersion(at: Date()) + 12345, status: .needsReauthorization)
    }

    @Test("a record round-trips exactly, sub-millisecond dates and 64-bit versions included")
    func recordRoundTrip() throws {
        let record = sampleRecord()
        let bytes = try codec.encode(record, for: key)
        #expect(try codec.decodeRecord(bytes, for: key) == record)
        var bare = TokenRecord(
            accessToken: Secret("a"), issuedAt: Date(timeIntervalSince1970: 0.000001), expiresAt: nil)
        bare.version = UInt64(Int64.max)
        #expect(try codec.decodeRecord(try codec.encode(bare, for: key), for: key) == bare)
    }

    @Test("the envelope carries format version 1 and documented field names")
    func envelopeFormat() throws {
        let record = sampleRecord()
        let bytes = try codec.encode(record, for: key)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])
        #expect(object["v"] as? Int == 1)
        let fields = try #require(object["record"] as? [String: Any])
        #expect(fields["access_token"] as? String == "access \"quoted\" ü")
        #expect(fields["token_type"] as? String == "Bearer")
        #expect(fields["status"] as? String == "needs_reauthorization")
        #expect(fields["scopes"] as? [String] == ["read", "write"])
        let issued = try #require(fields["issued_at"] as? Double)
        #expect(issued == record.issuedAt.timeIntervalSinceReferenceDate)
    }

    @Test("garbage, truncation and unknown versions are storeCorrupted, with no stored bytes in the message")
    func corruptBlobs() throws {
        let bytes = try codec.encode(sampleRecord(), for: key)
        let inputs: [[UInt8]] = [
            [], Array("not json".utf8), Array(bytes.prefix(bytes.count / 2)), [0x01, 0x02, 0x03],
            Array(#"{"v":2,"record":{"access_token":"leak-me"}}"#.utf8),
            Array(#"{"v":1,"record":{"access_token":"leak-me"}}"#.utf8),
            Array(#"{"record":{"access_token":"leak-me"}}"#.utf8),
        ]
        for input in inputs {
            let error = try #require(throws: BrokerError.self) { try codec.decodeRecord(input, for: key) }
            #expect(error.code == .storeCorrupted)
            #expect(!error.description.contains("leak-me") && !error.debugDescription.contains("leak-me"))
            #expect(!error.debugDescription.contains("access"))
        }
    }

    @Test("a session round-trips and is bound to its id")
    func sessionRoundTrip() throws {
        let session = AuthorizationSession(
            state: Secret("state-1"), codeVerifier: Secret("verifier"), redirectURI: "https://app/cb", key: key,
            createdAt: Date(), expiresAt: Date().addingTimeInterval(600.5))
        let bytes = try codec.encode(session)
        #expect(try codec.decodeSession(bytes, id: session.id) == session)
        let wrongID = AuthorizationSession.id(forState: "state-2", provider: key.provider)
        #expect(throws: BrokerError.storeCorrupted) { try codec.decodeSession(bytes, id: wrongID) }
        // The id binds the provider too: the same state under another provider is another id.
        let otherProvider = AuthorizationSession.id(forState: "state-1", provider: try ProviderID("other"))
        #expect(otherProvider != session.id)
        #expect(throws: BrokerError.storeCorrupted) { try codec.decodeSession(bytes, id: otherProvider) }
        #expect(throws: BrokerError.storeCorrupted) { try codec.decodeSession(Array("{}".utf8), id: session.id) }
    }

    @Test("a non-finite extra number is a storeFailed encoding error")
    func nonFinite() {
        var record = sampleRecord()
        record.extraFields = ["bad": .number(.nan)]
        #expect(throws: BrokerError.storeFailed) { try codec.encode(record, for: key) }
    }
}
