/// Writes JSON the way Foundation's `JSONEncoder` does with `[.sortedKeys, .withoutEscapingSlashes]`: strings
/// escape only `"`, `\` and control characters (`\b \f \n \r \t`, others as `\u00xx`); non-ASCII is written
/// as UTF-8; a double is its shortest round-tripping `description`, without a trailing `.0`; object members
/// are sorted by their names' UTF-8 bytes.
///
/// It writes only what ``JSONReader`` reads back: a non-finite number, or an array or object nested deeper than
/// ``JSONReader/maximumDepth``, makes the writing call return `false`.
struct JSONWriter {
    private(set) var bytes: [UInt8] = []

    init(capacity: Int) { bytes.reserveCapacity(capacity) }

    /// Appends `text` as is.
    mutating func raw(_ text: String) { bytes.append(contentsOf: text.utf8) }

    mutating func string(_ value: String) {
        bytes.append(UInt8(ascii: "\""))
        var value = value
        value.withUTF8 { utf8 in
            var runStart = 0
            for index in utf8.indices {
                let byte = utf8[index]
                guard byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") else { continue }
                bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart..<index]))
                runStart = index + 1
                bytes.append(UInt8(ascii: "\\"))
                switch byte {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"): bytes.append(byte)
                case 0x08: bytes.append(UInt8(ascii: "b"))
                case 0x0C: bytes.append(UInt8(ascii: "f"))
                case 0x0A: bytes.append(UInt8(ascii: "n"))
                case 0x0D: bytes.append(UInt8(ascii: "r"))
                case 0x09: bytes.append(UInt8(ascii: "t"))
                default:
                    let hex = Array("0123456789abcdef".utf8)
                    bytes.append(contentsOf: [UInt8(ascii: "u"), 0x30, 0x30, hex[Int(byte >> 4)], hex[Int(byte & 0xF)]])
                }
            }
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart...]))
        }
        bytes.append(UInt8(ascii: "\""))
    }

    /// Writes a finite double; returns `false` (writing nothing) for NaN or an infinity.
    mutating func number(_ value: Double) -> Bool {
        guard value.isFinite else { return false }
        var text = value.description
        if text.hasSuffix(".0") { text.removeLast(2) }
        raw(text)
        return true
    }

    mutating func strings(_ values: [String]) {
        bytes.append(UInt8(ascii: "["))
        for (index, value) in values.enumerated() {
            if index > 0 { bytes.append(UInt8(ascii: ",")) }
            string(value)
        }
        bytes.append(UInt8(ascii: "]"))
    }

    /// Writes an object sitting at `level` (the document's top-level value is level 1); `false` if a number in
    /// it is not finite or a container in it sits deeper than ``JSONReader/maximumDepth``.
    mutating func object(_ members: [String: JSONValue], level: Int) -> Bool {
        guard level <= JSONReader.maximumDepth else { return false }
        bytes.append(UInt8(ascii: "{"))
        for (index, name) in members.keys.sorted(by: Self.sortsBefore).enumerated() {
            if index > 0 { bytes.append(UInt8(ascii: ",")) }
            string(name)
            bytes.append(UInt8(ascii: ":"))
            guard value(members[name]!, level: level + 1) else { return false }
        }
        bytes.append(UInt8(ascii: "}"))
        return true
    }

    /// Writes any value sitting at `level`; `false` as for ``object(_:level:)``.
    mutating func value(_ value: JSONValue, level: Int) -> Bool {
        switch value {
        case .null: raw("null")
        case .bool(let flag): raw(flag ? "true" : "false")
        case .number(let number): return self.number(number)
        case .string(let text): string(text)
        case .array(let elements):
            guard level <= JSONReader.maximumDepth else { return false }
            bytes.append(UInt8(ascii: "["))
            for (index, element) in elements.enumerated() {
                if index > 0 { bytes.append(UInt8(ascii: ",")) }
                guard self.value(element, level: level + 1) else { return false }
            }
            bytes.append(UInt8(ascii: "]"))
        case .object(let members): return object(members, level: level)
        }
        return true
    }

    /// The member order of `JSONEncoder`'s `.sortedKeys` on this platform: by UTF-8 bytes.
    static func sortsBefore(_ lhs: String, _ rhs: String) -> Bool { lhs.utf8.lexicographicallyPrecedes(rhs.utf8) }
}
