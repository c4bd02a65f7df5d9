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

    /// Splits the authority's `host[:port]` or `[IPv6]:port`.
    /// - Parameters:
    ///   - hostPort: The authority after any user information.
    ///   - reserved: Characters a host outside brackets must not contain.
    ///   - reservedMessage: The error message when it does.
    ///   - fail: Makes the error from a message that never quotes the text.
    /// - Returns: The host (without brackets) and the port, if one was given (1...65535).
    package static func hostAndPort(
        _ hostPort: Substring, reserved: String, reservedMessage: String, fail: (String) -> BrokerError
    ) throws -> (host: String, port: Int?) {
        let host: String
        let portText: Substring?
        if hostPort.hasPrefix("[") {
            guard let close = hostPort.firstIndex(of: "]") else { throw fail("an IPv6 host lacks its ']'") }
            host = String(hostPort[hostPort.index(after: hostPort.startIndex)..<close])
            let after = hostPort[hostPort.index(after: close)...]
            if after.isEmpty {
                portText = nil
            } else if after.hasPrefix(":") {
                portText = after.dropFirst()
            } else {
                throw fail("unexpected characters after the IPv6 host")
            }
        } else if let colon = hostPort.firstIndex(of: ":") {
            host = String(hostPort[..<colon])
            portText = hostPort[hostPort.index(after: colon)...]
        } else {
            host = String(hostPort)
            portText = nil
        }
        guard !host.isEmpty else { throw fail("the host is missing") }
        guard !host.contains(where: { reserved.contains($0) }) || hostPort.hasPrefix("[") else {
            throw fail(reservedMessage)
        }
        guard let portText else { return (host, nil) }
        guard let port = number(portText, max: 65535), port >= 1 else {
            throw fail("the port must be a number in 1...65535")
        }
        return (host, port)
    }

    /// Splits what follows a store URL's `scheme://` into the authority, the path (without its `/`) and the query
    /// (without its `?`), after refusing a fragment and unencoded spaces or control characters.
    /// - Parameters:
    ///   - rest: The URL after `scheme://`.
    ///   - fail: Makes the error from a message that never quotes the text.
    package static func split(
        afterScheme rest: Substring, fail: (String) -> BrokerError
    ) throws -> (authority: Substring, path: Substring, query: Substring?) {
        guard !rest.contains("#") else { throw fail("a fragment (#…) is not allowed") }
        guard !rest.unicodeScalars.contains(where: { $0.value <= 0x20 || $0.value == 0x7F }) else {
            throw fail("spaces and control characters must be percent-encoded")
        }
        var authority = rest
        var query: Substring?
        if let mark = authority.firstIndex(of: "?") {
            query = authority[authority.index(after: mark)...]
            authority = authority[..<mark]
        }
        var path: Substring = ""
        if let slash = authority.firstIndex(of: "/") {
            path = authority[authority.index(after: slash)...]
            authority = authority[..<slash]
        }
        return (authority, path, query)
    }
}
