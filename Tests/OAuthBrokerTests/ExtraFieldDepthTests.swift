import Foundation
import OAuthBroker
import Testing

/// The deepest extra field a token response keeps is exactly the deepest the store codec writes and reads back.
@Suite struct ExtraFieldDepthTests {
    let codec = JSONStoreCodec()
    let key = CodecFixtures.key

    /// An extra field of `levels` nested arrays around `1`.
    static func field(_ levels: Int) -> String {
        String(repeating: "[", count: levels) + "1" + String(repeating: "]", count: levels)
    }

    /// The same field as a value.
    static func value(_ levels: Int) -> JSONValue {
        var value = JSONValue.number(1)
        for _ in 0..<levels { value = .array([value]) }
        return value
    }

    static func response(extra levels: Int) throws -> TokenResponse {
        try TokenResponse(
            parsing: Data(#"{"access_token":"a","token_type":"Bearer","deep":\#(field(levels)),"k":1}"#.utf8))
    }

    /// A record built from `response` as the broker builds one.
    static func record(_ response: TokenResponse) -> TokenRecord {
        TokenRecord(
            accessToken: response.accessToken, tokenType: response.tokenType,
            issuedAt: Date(timeIntervalSinceReferenceDate: 1), expiresAt: nil, extraFields: response.extraFields,
            version: 1)
    }

    @Test("a field nested exactly at the limit is kept, stored and read back")
    func atTheLimit() throws {
        let levels = JSONValue.maximumDepth - 1  // the response object itself is level 1
        let response = try Self.response(extra: levels)
        #expect(response.adjustments.isEmpty)
        #expect(response.extraFields["deep"] == Self.value(levels))
        let record = Self.record(response)
        let bytes = try codec.encode(record, for: key)
        #expect(try codec.decodeRecord(bytes, for: key) == record)
        let fromJSON = try TokenResponse(
            json: .object([
                "access_token": .string("a"), "token_type": .string("Bearer"), "deep": Self.value(levels),
            ]))
        #expect(fromJSON.extraFields["deep"] == Self.value(levels))
    }

    @Test("a field one level beyond the limit (or far beyond) is dropped at parse time, the response kept")
    func beyondTheLimit() throws {
        for levels in [JSONValue.maximumDepth, JSONValue.maximumDepth + 1, 100_000] {
            let response = try Self.response(extra: levels)
            #expect(response.accessToken == Secret("a"))
            #expect(response.extraFields == ["k": .number(1)])
            #expect(response.adjustments == [.init(field: "deep", action: .dropped, reason: .nestedTooDeep)])
            #expect(response.adjustments.first?.description == "deep dropped: nested deeper than 512 levels")
            let record = Self.record(response)
            #expect(try codec.decodeRecord(try codec.encode(record, for: key), for: key) == record)
        }
        let fromJSON = try TokenResponse(
            json: .object([
                "access_token": .string("a"), "token_type": .string("Bearer"),
                "deep": Self.value(JSONValue.maximumDepth),
            ]))
        #expect(fromJSON.extraFields.isEmpty)
        #expect(fromJSON.adjustments == [.init(field: "deep", action: .dropped, reason: .nestedTooDeep)])
    }

    @Test("an RFC 6749 field nested too deeply is dropped if minor, fatal if it is the token")
    func knownFieldsTooDeep() throws {
        let deep = Self.field(JSONValue.maximumDepth)
        let response = try TokenResponse(
            parsing: Data(
                #"{"access_token":"a","token_type":"Bearer","refresh_token":\#(deep),"expires_in":\#(deep)}"#.utf8))
        #expect(response.refreshToken == nil && response.expiresIn == nil)
        #expect(
            response.adjustments == [
                .init(field: "expires_in", action: .dropped, reason: .nestedTooDeep),
                .init(field: "refresh_token", action: .dropped, reason: .nestedTooDeep),
            ])
        for body in [
            #"{"access_token":\#(deep),"token_type":"Bearer"}"#, #"{"access_token":"a","token_type":\#(deep)}"#,
        ] {
            let error = try #require(throws: BrokerError.self) { try TokenResponse(parsing: Data(body.utf8)) }
            #expect(error.code == .malformedResponse)
            #expect(error.message.hasSuffix("is not a string"))
        }
    }

    @Test("the codec refuses to store an extra field it could not read back")
    func codecRefusesTooDeep() throws {
        var record = Self.record(try Self.response(extra: 1))
        record.extraFields = ["deep": Self.value(JSONValue.maximumDepth)]
        let error = try #require(throws: BrokerError.self) { try codec.encode(record, for: key) }
        #expect(error.code == .storeFailed)
        record.extraFields = ["deep": Self.value(JSONValue.maximumDepth - 1)]
        #expect(try codec.decodeRecord(try codec.encode(record, for: key), for: key) == record)
    }
}
