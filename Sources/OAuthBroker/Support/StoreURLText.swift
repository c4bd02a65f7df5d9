/// The text steps every store URL parser shares (`redis://`, `postgres://`): bounded decimal numbers and
/// percent-decoding whose errors never quote the text (a URL's user information may hold a password).
package enum StoreURLText {
    /// Decimal digits only (no sign, no spaces), at most `max`; `nil` otherwise.
    package static func number(_ text: Substring, max: Int) -> Int? {
        guard !text.isEmpty, text.count <= 10, text.allSatisfy({ $0.isASCII && $0.isNumber }),
            let value = Int(text), value <= max
        else { return nil }
        return value
    }

    /// Percent-decodes UTF-8. A malformed escape, invalid UTF-8 or a NUL is an error made by `fail` from a
    /// message that names `what` and never quotes the text.
    package static func decode(_ text: Substring, what: String, fail: (String) -> BrokerError) throws -> String {
        var bytes: [UInt8] = []
        var iterator = Array(text.utf8).makeIterator()
        while let byte = iterator.next() {
            guard byte == UInt8(ascii: "%") else {
                bytes.append(byte)
                continue
            }
            guard let high = iterator.next().flatMap(Hex.value), let low = iterator.next().flatMap(Hex.value) else {
                throw fail("the \(what) has a malformed percent escape")
            }
            bytes.append(high << 4 | low)
        }
        guard let decoded = String(validating: bytes, as: UTF8.self) else {
            throw fail("the \(what) is not valid UTF-8 after percent-decoding")
        }
        guard !decoded.utf8.contains(0) else { throw fail("the \(what) contains NUL") }
        return decoded
    }
}
