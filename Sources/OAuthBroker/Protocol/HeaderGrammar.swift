/// The character rules for the two token-response fields that end up in an `Authorization` header
/// (`"<token_type> <access_token>"`, see ``AccessToken/authorizationHeaderValue()``).
///
/// - `token_type` must be an RFC 9110 §5.6.2 `token` (`1*tchar`), the grammar of an authentication scheme.
/// - `access_token` must be one or more visible ASCII characters (`VCHAR`, `%x21-7E`). That is wider than RFC 6750
///   §2.1's `b64token` (`ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/"`, then `"="`s), because real providers
///   issue tokens with `!`, `:`, `%` or `|`; what matters is that no character of it can end the header or start
///   another: no space, tab, CR, LF, NUL or other control character, and nothing outside ASCII.
///
/// The transports use ``isToken(_:)`` for request methods and header names too.
package enum HeaderGrammar {
    /// Whether `value` is a non-empty run of visible ASCII characters (`%x21-7E`).
    package static func isVisibleASCII(_ value: String) -> Bool {
        !value.isEmpty && value.utf8.allSatisfy { $0 >= 0x21 && $0 <= 0x7E }
    }

    /// Whether `value` is an RFC 9110 `token`: one or more `tchar`.
    package static func isToken(_ value: String) -> Bool {
        !value.isEmpty && value.utf8.allSatisfy(isTokenCharacter)
    }

    /// `tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" / "_" / "`" / "|" / "~" / DIGIT
    /// / ALPHA`.
    private static func isTokenCharacter(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"):
            true
        case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"),
            UInt8(ascii: "'"), UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."),
            UInt8(ascii: "^"), UInt8(ascii: "_"), UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"):
            true
        default: false
        }
    }
}

extension TokenRecord {
    /// Whether the record's token type and access token keep to ``HeaderGrammar``, so
    /// ``AccessToken/authorizationHeaderValue()`` is one well-formed header value. Responses are checked when parsed;
    /// this guards against a record that reached the store another way (an older release, a tampered store): the
    /// broker never serves such a record, and replaces it as it would a stale one.
    var isSafeInHeader: Bool {
        HeaderGrammar.isToken(tokenType) && HeaderGrammar.isVisibleASCII(accessToken.revealedValue)
    }
}
