/// A number of seconds as the command line writes it: `5`, `0.25`, `2.5`.
///
/// The grammar is ASCII digits, optionally followed by a point and one to three more digits: whole milliseconds,
/// read exactly (no floating point, no locale). Nothing else is a number of seconds here: no sign, no exponent
/// (`1e3`), no leading or trailing point (`.5`, `5.`), no spaces, separators, `nan` or `inf`.
struct Seconds: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The value in whole milliseconds.
    let milliseconds: Int64

    /// The largest value any flag accepts: one day.
    static let maximum = Seconds(milliseconds: 86_400_000)

    init(milliseconds: Int64) {
        self.milliseconds = milliseconds
    }

    /// `duration` rounded up to whole milliseconds, so a default shown in help is never shorter than the real one.
    init(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        milliseconds = seconds * 1_000 + (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000
    }

    /// Parses `text`; `nil` unless it matches the grammar and is at most ``maximum``.
    init?(parsing text: String) {
        let bytes = Array(text.utf8)
        let point = bytes.firstIndex(of: UInt8(ascii: "."))
        let whole = bytes[..<(point ?? bytes.endIndex)]
        let fraction = point.map { bytes[($0 + 1)...] } ?? []
        let isDigit = { (byte: UInt8) in byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }
        guard !whole.isEmpty, whole.allSatisfy(isDigit) else { return nil }
        guard point == nil || (1...3).contains(fraction.count), fraction.allSatisfy(isDigit) else { return nil }
        // Leading zeros aside, more than six whole digits is more than a day; stop before Int64 could overflow.
        let significant = whole.drop { $0 == UInt8(ascii: "0") }
        guard significant.count <= 6 else { return nil }
        func value(_ digits: some Sequence<UInt8>) -> Int64 {
            digits.reduce(0) { $0 * 10 + Int64($1 - UInt8(ascii: "0")) }
        }
        var fractionMilliseconds = value(fraction)
        for _ in fraction.count..<3 { fractionMilliseconds *= 10 }
        let milliseconds = value(significant) * 1_000 + fractionMilliseconds
        guard milliseconds <= Self.maximum.milliseconds else { return nil }
        self.milliseconds = milliseconds
    }

    /// The value as a `Duration`.
    var duration: Duration { .milliseconds(milliseconds) }

    /// The shortest form that reads back as the same value: `10`, `0.25`, `2.5`.
    var description: String {
        let whole = milliseconds / 1_000
        let fraction = milliseconds % 1_000
        guard fraction != 0 else { return String(whole) }
        var digits = String(fraction)
        digits = String(repeating: "0", count: 3 - digits.count) + digits
        while digits.hasSuffix("0") { digits.removeLast() }
        return "\(whole).\(digits)"
    }

    static func < (lhs: Seconds, rhs: Seconds) -> Bool { lhs.milliseconds < rhs.milliseconds }
}
