import Foundation
import OAuthBroker
import Testing

@Suite struct TokenResponseTests {
    static func parse(_ json: String, missingType: String? = nil) throws -> TokenResponse {
        try TokenResponse(parsing: Data(json.utf8), tokenTypeWhenMissing: missingType)
    }

    @Test func parsesStandardAndQuirkyResponses() throws {
        let standard = try Self.parse(
            #"{"access_token":"a","token_type":"bearer","expires_in":3600,"refresh_token":"r","scope":"x y","foo":1}"#)
        #expect(standard.tokenType == "Bearer")
        #expect(standard.expiresIn == .seconds(3600))
        #expect(standard.refreshToken == Secret("r"))
        #expect(standard.scope == ["x", "y"])
        #expect(standard.extraFields == ["foo": .number(1)])
        #expect(standard.adjustments.isEmpty)
        let stringExpiry = try Self.parse(#"{"access_token":"a","token_type":"Bearer","expires_in":"3599"}"#)
        #expect(stringExpiry.expiresIn == .seconds(3599))
        let noExpiry = try Self.parse(#"{"access_token":"a","token_type":"Bearer","expires_in":null}"#)
        #expect(noExpiry.expiresIn == nil)
        #expect(noExpiry.adjustments.isEmpty)
        let lenient = try Self.parse(#"{"access_token":"a"}"#, missingType: "Bearer")
        #expect(lenient.tokenType == "Bearer")
        let nulls = try Self.parse(
            #"{"access_token":"a","token_type":"DPoP","refresh_token":null,"scope":null,"id_token":null,"x":null}"#)
        #expect(nulls.tokenType == "DPoP")
        #expect(nulls.refreshToken == nil && nulls.scope == nil && nulls.idToken == nil)
        #expect(nulls.extraFields == ["x": .null])
        #expect(nulls.adjustments.isEmpty)
    }

    @Test(
        "usable expires_in spellings",
        arguments: [
            (#"3600"#, 3600), (#"3600.0"#, 3600), (#"3.6e3"#, 3600), (#"" 3599 ""#, 3599), (#""3.6e3""#, 3600),
            (#""+60""#, 60), (#"315360000"#, 315_360_000),
        ] as [(String, Int64)])
    func usableExpiry(json: String, seconds: Int64) throws {
        let response = try Self.parse(#"{"access_token":"a","token_type":"Bearer","expires_in":\#(json)}"#)
        #expect(response.expiresIn == .seconds(seconds))
        #expect(response.adjustments.isEmpty)
    }

    @Test(
        "an unusable expires_in is dropped, never fatal",
        arguments: [
            (#"0"#, .notPositive), (#"-5"#, .notPositive), (#"-0"#, .notPositive), (#"-1e400"#, .notPositive),
            (#""-1""#, .notPositive), (#""soon""#, .notANumber), (#""""#, .notANumber), (#""0x10""#, .notANumber),
            (#""inf""#, .notANumber), (#""nan""#, .notANumber), (#"true"#, .boolean), (#"false"#, .boolean),
            (#"12.5"#, .notAWholeNumber), (#""12.5""#, .notAWholeNumber), (#"[3600]"#, .notANumber),
            (#"{"s":3600}"#, .notANumber),
        ] as [(String, TokenResponse.Adjustment.Reason)])
    func droppedExpiry(json: String, reason: TokenResponse.Adjustment.Reason) throws {
        let response = try Self.parse(#"{"access_token":"a","token_type":"Bearer","expires_in":\#(json)}"#)
        #expect(response.accessToken == Secret("a"))
        #expect(response.expiresIn == nil)
        #expect(response.adjustments == [.init(field: "expires_in", action: .dropped, reason: reason)])
        #expect(response.extraFields.isEmpty)
    }

    @Test("an expires_in beyond maximumExpiresIn is clamped", arguments: [#"1e300"#, #"1e400"#, #""99999999999""#])
    func clampedExpiry(json: String) throws {
        let response = try Self.parse(#"{"access_token":"a","token_type":"Bearer","expires_in":\#(json)}"#)
        #expect(response.expiresIn == .seconds(TokenResponse.maximumExpiresIn))
        #expect(response.adjustments == [.init(field: "expires_in", action: .clamped, reason: .tooLarge)])
        #expect(
            response.adjustments.map(\.description) == [
                "expires_in clamped: more than maximumExpiresIn (315360000 seconds)"
            ])
    }

    @Test(
        "a wrong refresh_token, scope or id_token is dropped, never fatal",
        arguments: [
            ("refresh_token", #"42"#, .notAString), ("refresh_token", #"{"t":"r"}"#, .notAString),
            ("refresh_token", #"true"#, .notAString), ("refresh_token", #"["r"]"#, .notAString),
            ("refresh_token", #""""#, .empty), ("scope", #"7"#, .notAString), ("scope", #"["a","b"]"#, .notAString),
            ("scope", #""bad\"scope""#, .invalidScope), ("scope", #""caf\u00e9""#, .invalidScope),
            ("scope", #""""#, .invalidScope), ("scope", #""   ""#, .invalidScope), ("id_token", #""""#, .empty),
            ("id_token", #"1"#, .notAString), ("id_token", #"{"alg":"none"}"#, .notAString),
        ] as [(String, String, TokenResponse.Adjustment.Reason)])
    func droppedMinorField(field: String, json: String, reason: TokenResponse.Adjustment.Reason) throws {
        let response = try Self.parse(#"{"access_token":"a","token_type":"Bearer","\#(field)":\#(json)}"#)
        #expect(response.accessToken == Secret("a"))
        #expect(response.refreshToken == nil && response.scope == nil && response.idToken == nil)
        #expect(response.adjustments == [.init(field: field, action: .dropped, reason: reason)])
        #expect(response.extraFields.isEmpty, "a dropped RFC 6749 field never becomes an extra field")
    }

    @Test("the rotated refresh token survives odd minor fields, which are listed in a fixed order")
    func rotatedTokenSurvives() throws {
        let response = try Self.parse(
            #"""
            {"access_token":"at-new","token_type":"Bearer","refresh_token":"rt-new","expires_in":"soon",
             "scope":{"read":true},"id_token":false,"z_big":1e400,"a_nested":[[1e999]],"ok":[1,"two"]}
            """#)
        #expect(response.accessToken == Secret("at-new"))
        #expect(response.refreshToken == Secret("rt-new"))
        #expect(response.expiresIn == nil && response.scope == nil && response.idToken == nil)
        #expect(response.extraFields == ["ok": .array([.number(1), .string("two")])])
        #expect(
            response.adjustments.map(\.description) == [
                "expires_in dropped: not a number", "scope dropped: not a string", "id_token dropped: not a string",
                "a_nested dropped: holds a number outside the range of a double",
                "z_big dropped: holds a number outside the range of a double",
            ])
    }

    @Test(
        "responses without a usable token are still fatal",
        arguments: [
            "<html><body>Bad Gateway</body></html>",
            "not json",
            "",
            "[1,2]",
            #""access_token""#,
            #"{"access_token":"a","token_type":"Bearer"} trailing"#,
            #"{"access_token":"a","token_type":"Bearer",}"#,
            #"{"token_type":"Bearer"}"#,
            #"{"access_token":null,"token_type":"Bearer"}"#,
            #"{"access_token":"","token_type":"Bearer"}"#,
            #"{"access_token":42,"token_type":"Bearer"}"#,
            #"{"access_token":true,"token_type":"Bearer"}"#,
            #"{"access_token":["a"],"token_type":"Bearer"}"#,
            #"{"access_token":{"v":"a"},"token_type":"Bearer"}"#,
            #"{"access_token":"a"}"#,
            #"{"access_token":"a","token_type":null}"#,
            #"{"access_token":"a","token_type":""}"#,
            #"{"access_token":"a","token_type":1}"#,
            #"{"access_token":"a","token_type":["Bearer"]}"#,
        ])
    func fatal(body: String) {
        #expect(throws: BrokerError.malformedResponse) { try Self.parse(body) }
    }

    @Test("each fatal case names the field in its message")
    func fatalMessages() throws {
        let cases: [(String, String)] = [
            ("[]", "the token response is not a JSON object"),
            (#"{"token_type":"Bearer"}"#, "the token response has no access_token"),
            (#"{"access_token":"","token_type":"Bearer"}"#, "access_token in the token response is empty"),
            (#"{"access_token":7,"token_type":"Bearer"}"#, "access_token in the token response is not a string"),
            (#"{"access_token":"a"}"#, "the token response has no token_type"),
            (#"{"access_token":"a","token_type":""}"#, "token_type in the token response is empty"),
            (#"{"access_token":"a","token_type":7}"#, "token_type in the token response is not a string"),
            ("{", "the token response is not JSON"),
        ]
        for (body, message) in cases {
            let error = try #require(throws: BrokerError.self) { try Self.parse(body) }
            #expect(error.message == message)
        }
        #expect(throws: BrokerError.malformedResponse) { try TokenResponse(json: .string("a")) }
        #expect(throws: BrokerError.malformedResponse) {
            try TokenResponse(json: .object(["token_type": .string("x")]))
        }
    }

    @Test func htmlIsNamedInTheMessage() {
        do {
            _ = try Self.parse("  <!DOCTYPE html><html></html>")
            Issue.record("should throw")
        } catch let error as BrokerError {
            #expect(error.message.contains("HTML"))
        } catch {
            Issue.record("wrong error \(error)")
        }
    }

    @Test("init(json:) on a parsed body gives what init(parsing:) gives")
    func jsonInitMatchesParsing() throws {
        let body = Data(
            #"""
            {"access_token":"at","token_type":"bearer","expires_in":"60","refresh_token":"rt","scope":"a,b",
             "id_token":"h.p.s","ext":{"n":[1,2.5,null]},"flag":true}
            """#.utf8)
        let parsed = try TokenResponse(parsing: body, scopeDelimiter: ",", tokenTypeWhenMissing: "Bearer")
        let fromJSON = try TokenResponse(
            json: try JSONValue(parsing: body), scopeDelimiter: ",", tokenTypeWhenMissing: "Bearer")
        #expect(parsed == fromJSON)
        #expect(parsed.scope == ["a", "b"])
        #expect(parsed.idToken == Secret("h.p.s"))
        #expect(
            parsed.extraFields == [
                "ext": .object(["n": .array([.number(1), .number(2.5), .null])]), "flag": .bool(true),
            ])
    }

    @Test("a repeated member keeps its last value")
    func duplicateMembers() throws {
        let response = try Self.parse(
            #"{"access_token":"first","token_type":"Bearer","access_token":"last","x":1,"x":{"y":2}}"#)
        #expect(response.accessToken == Secret("last"))
        #expect(response.extraFields == ["x": .object(["y": .number(2)])])
    }

    @Test("adjustments and error messages never contain a value")
    func noSecretsInAdjustmentsOrErrors() throws {
        let secret = "SECRET-value-7f3a"
        let response = try Self.parse(
            #"""
            {"access_token":"\#(secret)","token_type":"Bearer","expires_in":"\#(secret)","scope":"\#(secret) \"",
             "refresh_token":["\#(secret)"],"id_token":{"v":"\#(secret)"},"extra":[1e400,"\#(secret)"],
             "deep":\#(String(repeating: "[", count: 600))"\#(secret)"\#(String(repeating: "]", count: 600))}
            """#)
        #expect(response.adjustments.count == 6)
        for adjustment in response.adjustments {
            #expect(!adjustment.description.contains(secret))
            #expect(!String(reflecting: adjustment).contains(secret))
        }
        let fatalBodies = [
            #"{"access_token":["\#(secret)"],"token_type":"Bearer"}"#,
            #"{"access_token":"\#(secret)","token_type":{"t":"\#(secret)"}}"#,
            #"{"access_token":"\#(secret)","token_type":"Bearer""#,
            #"{"access_token":"\#(secret)\u0001"}"#, "\(secret)",
        ]
        for body in fatalBodies {
            let error = try #require(throws: BrokerError.self) { try Self.parse(body) }
            #expect(!error.message.contains(secret))
            #expect(!String(describing: error).contains(secret) && !String(reflecting: error).contains(secret))
        }
    }

    @Test("an extra field with a long or unprintable name is named by a placeholder")
    func unloggableNames() throws {
        let long = String(repeating: "n", count: 65)
        let response = try TokenResponse(
            json: .object([
                "access_token": .string("a"), "token_type": .string("Bearer"), long: .number(.infinity),
                "a\nb": .number(.nan),
                String(repeating: "k", count: 64): .number(-.infinity),
            ]))
        #expect(response.extraFields.isEmpty)
        #expect(
            response.adjustments.map(\.field) == [
                TokenResponse.Adjustment.unloggableFieldName, String(repeating: "k", count: 64),
                TokenResponse.Adjustment.unloggableFieldName,
            ])
    }
}
