import Foundation
import OAuthBroker
import OAuthBrokerTools
import Testing

@Suite("StoreKeyFile")
struct StoreKeyFileTests {
    static let first = Data((0..<32).map { UInt8($0) }).base64EncodedString()
    static let second = Data((0..<32).map { UInt8(255 - $0) }).base64EncodedString()

    @Test("comments, blank lines, tabs and CRLF are allowed; the first key seals")
    func parses() throws {
        let text = "# keys\r\n\r\n   # indented comment\n\tnew-2026.06_a\t\(Self.first)  \r\nold \(Self.second)\n"
        let keys = try StoreKeyFile.parse(Array(text.utf8), source: "keys")
        #expect(keys.map(\.id) == ["new-2026.06_a", "old"])
        let codec = try SealingStoreCodec(keys: keys)
        #expect(codec.currentKeyID == "new-2026.06_a")
        let sample = try SealingStoreCodec(keys: [.init(id: "old", bytes: (0..<32).map { UInt8(255 - $0) })])
        let key = try StoreKey(provider: "p", tenant: "t", principal: "u")
        let record = TokenRecord(
            accessToken: Secret("a"), issuedAt: Date(timeIntervalSinceReferenceDate: 1), expiresAt: nil, version: 1)
        // The material decoded from base64 is the key: a blob sealed with the same bytes opens.
        #expect(try codec.decodeRecord(try sample.encode(record, for: key), for: key) == record)
    }

    @Test(
        "errors name the line and never quote it",
        arguments: [
            ("k1 \(first)\nk1 \(second)\n", "line 2"),
            ("k1\n", "line 1"),
            ("k1 \(first.dropLast())\n", "line 1"),
            (
                "k1 \(first.replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_"))x===\n",
                "line 1"
            ),
            ("\n\n" + String(repeating: "a", count: 65) + " \(first)\n", "line 3"),
            ("k1 \(Data(repeating: 1, count: 33).base64EncodedString())\n", "line 1"),
        ])
    func errors(_ text: String, _ line: String) throws {
        let error = #expect(throws: BrokerError.invalidConfiguration) {
            try StoreKeyFile.parse(Array(text.utf8), source: "keys")
        }
        #expect(error?.message.contains(line) == true, "\(String(describing: error))")
        for secret in [Self.first, Self.second, String(Self.first.prefix(8))] {
            #expect(error?.debugDescription.contains(secret) == false)
        }
    }

    @Test("non-UTF-8 content, an empty file and an oversized file are refused")
    func refused() throws {
        #expect(throws: BrokerError.invalidConfiguration) { try StoreKeyFile.parse([0xFF, 0xFE], source: "k") }
        #expect(throws: BrokerError.invalidConfiguration) { try StoreKeyFile.parse([], source: "k") }
        #expect(throws: BrokerError.invalidConfiguration) {
            try StoreKeyFile.parse(Array(repeating: UInt8(ascii: "#"), count: 70_000), source: "k")
        }
    }
}
