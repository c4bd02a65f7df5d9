/// Makes text from outside the process (a provider's error code, a callback parameter) safe to print on one line.
enum PrintableText {
    /// `text` with every control, format and line- or paragraph-separator character replaced by `?`, cut to
    /// `limit` characters (with `…` when cut).
    static func sanitized(_ text: some StringProtocol, limit: Int = 128) -> String {
        var scalars = String.UnicodeScalarView()
        var count = 0
        for scalar in text.unicodeScalars {
            guard count < limit else {
                scalars.append("…")
                break
            }
            scalars.append(isUnprintable(scalar) ? "?" : scalar)
            count += 1
        }
        return String(scalars)
    }

    /// Whether `text` has no character ``sanitized(_:limit:)`` would replace.
    static func isPrintable(_ text: some StringProtocol) -> Bool {
        !text.unicodeScalars.contains(where: isUnprintable)
    }

    /// Whether `scalar` is a control, format, line-separator or paragraph-separator character: what
    /// ``sanitized(_:limit:)`` replaces, and what an ``Identifier`` may not contain.
    static func isUnprintable(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.properties.generalCategory {
        case .control, .format, .lineSeparator, .paragraphSeparator: true
        default: false
        }
    }
}
