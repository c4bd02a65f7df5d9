import Foundation
import OAuthBroker
import Testing

@Suite("JSONStoreCodec compatibility with the JSONEncoder-based format 1")
struct JSONStoreCodecCompatibilityTests {
    let codec = JSONStoreCodec()
    let legacy = LegacyJSONStoreCodec()
    let key = CodecFixtures.key

    /// Records covering every optional field present and absent, every JSONValue kind, unicode and escapes,
    /// dates with sub-millisecond fractions, and extreme versions.
    static func records() -> [TokenRecord] {
        var records = [CodecFixtures.fullRecord, CodecFixtures.bareRecord]
        let instants: [Double] = [
            0, -1.5, 799_996_400.123456789, 1e-9, 123_456_789.000_001, 4e9 + 0.000_123, -978_307_200.000_5,
            Double.ulpOfOne, 1e15 + 0.5,
        ]
        for (index, instant) in instants.enumerated() {
            records.append(
                TokenRecord(
                    accessToken: Secret("tok-\(index)-\u{0}\u{8}\u{C}\r\u{1B}\u{7F}\u{2029}\u{1F600}𝄞"),
                    refreshToken: index.isMultiple(of: 2) ? Secret("r\\\"/\(index)") : nil,
                    tokenType: index.isMultiple(of: 3) ? "DPoP" : "Bearer",
                    scopes: index.isMultiple(of: 2) ? ["a", "b:c", "z"] : [],
                    issuedAt: Date(timeIntervalSinceReferenceDate: instant),
                    expiresAt: index.isMultiple(of: 3)
                        ? nil : Date(timeIntervalSinceReferenceDate: instant + 3599.999_999),
                    idToken: index.isMultiple(of: 4) ? Secret("id.\(index)") : nil,
                    extraFields: [
                        "num\(index)": .number(instant), "int": .number(Double(index) * 1e10),
                        "nested": .array([.object(["x": .array([.null, .bool(index > 3)])])]), "uni😀": .string("ß\t"),
                    ],
                    version: [0, 1, UInt64(Int64.max), UInt64.max, 1_831_975_315_128_320][index % 5],
                    status: [.active, .revoked, .needsReauthorization, TokenRecord.Status(rawValue: "custom")][
                        index % 4]))
        }
        return records
    }

    @Test("blobs written by the JSONEncoder-based codec (committed fixtures) decode to the original values")
    func fixturesDecode() throws {
        #expect(try codec.decodeRecord(CodecFixtures.fullRecordBlob, for: key) == CodecFixtures.fullRecord)
        #expect(try codec.decodeRecord(CodecFixtures.bareRecordBlob, for: key) == CodecFixtures.bareRecord)
        #expect(
            try codec.decodeSession(CodecFixtures.sessionBlob, id: CodecFixtures.session.id) == CodecFixtures.session)
    }

    @Test("the encoder writes byte-for-byte what the JSONEncoder-based codec wrote")
    func fixturesEncodeIdentically() throws {
        #expect(try codec.encode(CodecFixtures.fullRecord, for: key) == CodecFixtures.fullRecordBlob)
        #expect(try codec.encode(CodecFixtures.bareRecord, for: key) == CodecFixtures.bareRecordBlob)
        #expect(try codec.encode(CodecFixtures.session) == CodecFixtures.sessionBlob)
    }

    @Test("records round-trip exactly, match the legacy encoder's bytes, and are readable by the legacy decoder")
    func recordsAgainstLegacy() throws {
        for record in Self.records() {
            let bytes = try codec.encode(record, for: key)
            #expect(try codec.decodeRecord(bytes, for: key) == record)
            #expect(bytes == (try legacy.encode(record)))
            #expect(try legacy.decodeRecord(bytes) == record)
            #expect(try codec.decodeRecord(try legacy.encode(record), for: key) == record)
        }
    }

    @Test("sessions round-trip exactly and match the legacy codec in both directions")
    func sessionsAgainstLegacy() throws {
        for (index, instant) in [0, 799_996_400.123_456_7, -5.000_001, 1e-7].enumerated() {
            let session = AuthorizationSession(
                state: Secret("st-\(index)-\"ü\"\n"), codeVerifier: Secret("v/\(index)\\"),
                redirectURI: "https://app.example/cb/\(index)?a=1&b=é", key: CodecFixtures.session.key,
                createdAt: Date(timeIntervalSinceReferenceDate: instant),
                expiresAt: Date(timeIntervalSinceReferenceDate: instant + 600.000_01))
            let bytes = try codec.encode(session)
            #expect(try codec.decodeSession(bytes, id: session.id) == session)
            #expect(bytes == (try legacy.encode(session)))
            #expect(try legacy.decodeSession(bytes) == session)
        }
    }

    @Test("JSON the old decoder accepted but the old encoder never wrote still decodes")
    func tolerantInputs() throws {
        let text = #"""
             { "v" : 1 , "unknown" : [ {"x": null}, 1e3, "s" ] , "record" : { "access_token" : "a\u00e9\ud83d\ude00\/" ,
             "refresh_token": null, "expires_at": null, "extra": {"k2": 2.50E+1, "k": -0}, "issued_at" : 1E2 ,
             "scopes" : [ "b" , "a" ] , "status" : "active" , "token_type" : "Bearer" , "version" : 7 , "more": {} } }
            """#
        let bytes = Array(text.drop(while: \.isWhitespace).utf8)
        let record = try codec.decodeRecord(bytes, for: key)
        #expect(try legacy.decodeRecord(bytes) == record)
        #expect(record.accessToken == Secret("aé😀/"))
        #expect(record.refreshToken == nil && record.expiresAt == nil)
        #expect(record.issuedAt == Date(timeIntervalSinceReferenceDate: 100))
        #expect(record.scopes == ["a", "b"])
        #expect(record.extraFields == ["k": .number(-0.0), "k2": .number(25)])
        #expect(record.version == 7)
    }

    @Test("malformed JSON, bad UTF-8, deep nesting and wrong types are storeCorrupted without stored bytes")
    func strictRejection() throws {
        let valid = String(decoding: CodecFixtures.bareRecordBlob, as: UTF8.self)
        var inputs: [[UInt8]] = [
            Array((valid + " x").utf8), Array(valid.replacingOccurrences(of: #""a""#, with: #""leak-me\q""#).utf8),
            Array(valid.replacingOccurrences(of: #""a""#, with: "\"leak-me\u{1}\"").utf8),
            Array(valid.replacingOccurrences(of: #""a""#, with: #""leak-me\ud800""#).utf8),
            Array(valid.replacingOccurrences(of: #""version":1"#, with: #""version":-1"#).utf8),
            Array(valid.replacingOccurrences(of: #""version":1"#, with: #""version":1.5"#).utf8),
            Array(valid.replacingOccurrences(of: #""version":1"#, with: #""version":18446744073709551616"#).utf8),
            Array(valid.replacingOccurrences(of: #""version":1"#, with: #""version":"1""#).utf8),
            Array(valid.replacingOccurrences(of: #""issued_at":1e-06"#, with: #""issued_at":1e999"#).utf8),
            Array(valid.replacingOccurrences(of: #""issued_at":1e-06"#, with: #""issued_at":01"#).utf8),
            Array(valid.replacingOccurrences(of: #""scopes":[]"#, with: #""scopes":["bad scope"]"#).utf8),
            Array(valid.replacingOccurrences(of: #""extra":{}"#, with: #""extra":{"a":[1,]}"#).utf8),
            Array(valid.replacingOccurrences(of: #""status":"active""#, with: #""status":null"#).utf8),
            Array(valid.replacingOccurrences(of: #""v":1"#, with: #""v":1.0e0,"v":"x""#).utf8),
            Array(#"{"v":1,"record":"leak-me"}"#.utf8),
            Array(#"{"v":1}"#.utf8),
        ]
        var badUTF8 = Array(valid.utf8)
        badUTF8.replaceSubrange(badUTF8.firstRange(of: Array(#""a""#.utf8))!, with: [0x22, 0xC3, 0x28, 0x22])
        inputs.append(badUTF8)
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        inputs.append(Array(valid.replacingOccurrences(of: #""extra":{}"#, with: #""extra":{"d":\#(deep)}"#).utf8))
        for input in inputs {
            let error = try #require(throws: BrokerError.self) { try codec.decodeRecord(input, for: key) }
            #expect(error.code == .storeCorrupted)
            #expect(!error.description.contains("leak-me") && !error.debugDescription.contains("leak-me"))
        }
    }

    @Test("a non-finite date is a storeFailed encoding error, for records and sessions")
    func nonFiniteDates() {
        let record = TokenRecord(
            accessToken: Secret("a"), issuedAt: Date(timeIntervalSinceReferenceDate: .infinity), expiresAt: nil)
        #expect(throws: BrokerError.storeFailed) { try codec.encode(record, for: key) }
        let session = AuthorizationSession(
            state: Secret("s"), codeVerifier: Secret("v"), redirectURI: "https://a/cb", key: key,
            createdAt: Date(), expiresAt: Date(timeIntervalSinceReferenceDate: .nan))
        #expect(throws: BrokerError.storeFailed) { try codec.encode(session) }
    }
}
