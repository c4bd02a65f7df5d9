import Foundation
import Testing

@testable import OAuthBroker

@Suite struct JSONReaderTests {
    static func parse(_ text: String) throws -> JSONValue { try JSONValue(parsing: Array(text.utf8)) }

    static func nested(_ levels: Int, around inner: String = "") -> String {
        String(repeating: "[", count: levels) + inner + String(repeating: "]", count: levels)
    }

    @Test("values of every kind")
    func kinds() throws {
        let value = try Self.parse(
            #" {"n":null,"t":true,"f":false,"s":"x","a":[1,[],{}],"o":{"k":-2.5}} "# + "\n\t\r")
        #expect(
            value
                == .object([
                    "n": .null, "t": .bool(true), "f": .bool(false), "s": .string("x"),
                    "a": .array([.number(1), .array([]), .object([:])]), "o": .object(["k": .number(-2.5)]),
                ]))
        #expect(try Self.parse(#""top""#) == .string("top"))
        #expect(try Self.parse("7") == .number(7))
        #expect(try Self.parse("null") == .null)
    }

    @Test("string escapes, surrogate pairs and raw UTF-8")
    func escapes() throws {
        let value = try Self.parse(#""\"\\\/\b\f\n\r\t\u0041\u00e9\u20AC\ud83d\ude00 raw:é😀 \u0000""#)
        #expect(value == .string("\"\\/\u{8}\u{C}\n\r\tAé€😀 raw:é😀 \u{0}"))
        #expect(try Self.parse(#""\uD834\uDD1E""#) == .string("𝄞"))
    }

    @Test(
        "invalid strings are rejected",
        arguments: [
            #""\ud800""#, #""\udc00""#, #""\ud800\u0041""#, #""\ud800x""#, #""\ud800\""#, #""\x""#, #""\u12""#,
            #""\u12G4""#, "\"a\u{1}b\"", "\"tab\there\"", #""unterminated"#, #""\"#, "'single'",
        ])
    func invalidStrings(text: String) {
        #expect(throws: BrokerError.malformedResponse) { try Self.parse(text) }
    }

    @Test("invalid UTF-8 is rejected")
    func invalidUTF8() {
        for bytes in [[0x22, 0xC3, 0x28, 0x22], [0x22, 0xFF, 0x22], [0x22, 0xED, 0xA0, 0x80, 0x22]] as [[UInt8]] {
            #expect(throws: BrokerError.malformedResponse) { try JSONValue(parsing: bytes) }
        }
    }

    @Test(
        "numbers",
        arguments: [
            ("0", 0), ("-0", -0.0), ("1.5", 1.5), ("-1.5e-3", -0.0015), ("1E2", 100), ("1e+2", 100), ("2.50E+1", 25),
            ("123456789012345678", 123_456_789_012_345_678), ("9007199254740993", 9_007_199_254_740_993),
            ("-9999999999999999", -9_999_999_999_999_999), ("1e-400", 0),
            ("1.7976931348623157e308", .greatestFiniteMagnitude),
        ] as [(String, Double)])
    func numbers(text: String, expected: Double) throws {
        let value = try Self.parse(text)
        #expect(value == .number(expected))
        #expect(value == .number(Double(text)!), "rounds as Double(String) does")
        if case .number(let number) = value { #expect(number.sign == expected.sign) }
    }

    @Test(
        "invalid numbers are rejected",
        arguments: [
            "01", "-01", "1.", ".5", "+1", "-", "1e", "1e+", "0x10", "NaN", "Infinity", "-Infinity", "1e400", "--1",
            "1.2.3",
        ])
    func invalidNumbers(text: String) {
        #expect(throws: BrokerError.malformedResponse) { try Self.parse(text) }
    }

    @Test(
        "malformed structure and trailing garbage are rejected",
        arguments: [
            "", "  ", "{} x", "{}{}", "1 2", #""a"x"#, "[1,]", #"{"a":1,}"#, #"{"a" 1}"#, #"{a:1}"#, "[1 2]",
            #"{"a":1 "b":2}"#, "/* c */ {}", "{} // c", "[", "{", #"{"a":"#, "tru", "nul", "truex", "[true false]",
            "\u{FEFF}{}",
        ])
    func malformed(text: String) {
        #expect(throws: BrokerError.malformedResponse) { try Self.parse(text) }
    }

    @Test("nesting is accepted up to maximumDepth levels and rejected one level deeper, without recursing")
    func depthLimit() throws {
        #expect(JSONValue.maximumDepth == 512)
        #expect(JSONReader.maximumDepth == JSONValue.maximumDepth)
        _ = try Self.parse(Self.nested(512))
        _ = try Self.parse(Self.nested(511, around: #"{"k":1}"#))
        for text in [Self.nested(513), Self.nested(512, around: "{}"), Self.nested(100_000)] {
            let error = try #require(throws: BrokerError.self) { try Self.parse(text) }
            #expect(error.message == "the JSON nests deeper than 512 levels")
        }
    }

    @Test("a repeated member name keeps its last value; member order does not matter")
    func duplicateNames() throws {
        #expect(try Self.parse(#"{"a":1,"b":0,"a":2}"#) == .object(["a": .number(2), "b": .number(0)]))
        #expect(try Self.parse(#"{"a":{"x":1},"a":null}"#) == .object(["a": .null]))
        #expect(try Self.parse(#"{"b":1,"a":2}"#) == (try Self.parse(#"{"a":2,"b":1}"#)))
    }

    @Test("any collection of bytes parses, contiguous or not")
    func inputs() throws {
        let text = #"{"k":[1,"é"]}"#
        let expected = JSONValue.object(["k": .array([.number(1), .string("é")])])
        #expect(try JSONValue(parsing: Data(text.utf8)) == expected)
        #expect(try JSONValue(parsing: Array(("xx" + text).utf8).dropFirst(2)) == expected)
        #expect(try JSONValue(parsing: text.utf8) == expected)
        #expect(try JSONValue(parsing: Array(text.utf8.reversed()).reversed()) == expected)
    }

    @Test("errors never quote the input")
    func errorsDoNotQuote() throws {
        for text in [#"{"k":"leak-me"#, #"{"k":"leak-me\q"}"#, "leak-me", Self.nested(600, around: #""leak-me""#)] {
            let error = try #require(throws: BrokerError.self) { try Self.parse(text) }
            #expect(!String(describing: error).contains("leak-me") && !String(reflecting: error).contains("leak-me"))
        }
    }

    @Test("skipping checks syntax without building values or recursing, and honours its level bound")
    func skipping() throws {
        func skip(_ text: String, levels: Int = JSONReader.maximumDepth) throws -> Int {
            let bytes = Array(text.utf8)
            return try bytes.withUnsafeBufferPointer { buffer in
                var reader = JSONReader(buffer)
                try reader.skipValue(levels: levels)
                return reader.offset
            }
        }
        #expect(try skip(#" {"a":[1,{"b":null}],"c":"\u00e9"} , rest"#) == 34)
        #expect(try skip(#"[] x"#) == 2)
        #expect(try skip(Self.nested(512)) == 1024)
        #expect(throws: JSONReader.TooDeep.self) { try skip(Self.nested(513)) }
        #expect(try skip(Self.nested(200_000), levels: .max) == 400_000)
        for bad in ["[1,]", #"{"a"}"#, #"{"a":}"#, "[1 2]", "{1:2}", "[", #"["\x"]"#, "01", "]"] {
            #expect(throws: JSONReader.Malformed.self) { try skip(bad, levels: .max) }
        }
    }

    @Test("a token-response parse skips members nested too deeply and names them")
    func shallowMembers() throws {
        let deep = Self.nested(512)
        let (value, tooDeep) = try JSONReader.parseKeepingShallowMembers(
            Array(#"{"a":\#(deep),"b":1,"c":\#(Self.nested(511)),"d":\#(deep),"d":2,"e":3,"e":\#(deep)}"#.utf8))
        #expect(value == (try Self.parse(#"{"b":1,"c":\#(Self.nested(511)),"d":2}"#)))
        #expect(tooDeep == ["a", "e"])
        #expect(throws: JSONReader.Malformed.self) {
            try JSONReader.parseKeepingShallowMembers(Array(#"{"a":\#(Self.nested(600, around: "01"))}"#.utf8))
        }
        #expect(throws: JSONReader.TooDeep.self) {
            try JSONReader.parseKeepingShallowMembers(Array(Self.nested(513).utf8))
        }
    }
}
