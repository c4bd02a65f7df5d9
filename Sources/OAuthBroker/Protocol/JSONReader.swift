import Foundation

/// Reads RFC 8259 JSON from bytes: the one JSON parser of the core. Token responses, error bodies and stored
/// records all go through it, either as a whole document (``parse(_:)``, which builds a ``JSONValue``) or member
/// by member (``readObject(_:)`` and the typed readers, which the record codec uses to read its fixed shape in
/// one pass).
///
/// It is strict: no comments, no trailing commas, no leading zeros or `+`, no bare control characters in
/// strings, valid UTF-8 (an unpaired surrogate escape is an error), nothing but whitespace after the document,
/// and at most ``maximumDepth`` nested arrays and objects. Numbers are read as `Double`; one outside its range
/// (`1e400`) is an error unless ``overflowsToInfinity`` is set. A member name that occurs twice in one object
/// keeps its last value (as ECMAScript's `JSON.parse` does).
///
/// It never keeps or reports what it read: its errors are the empty ``Malformed`` and ``TooDeep``, so no byte of
/// a token can reach an error message.
struct JSONReader {
    /// The input is not JSON, or not what was expected. Carries nothing, so no input byte can leak.
    struct Malformed: Error {}

    /// An array or object sits deeper than the allowed nesting. Carries nothing.
    struct TooDeep: Error {}

    /// The deepest nesting of arrays and objects accepted: the document's top-level value is level 1, and an
    /// array or object at level 513 is ``TooDeep``. Foundation's `JSONDecoder` also stops at 512.
    ///
    /// The record codec reads a record's `extra` object as level 1, the level of the token-response object it
    /// came from, so every extra field a token response can hold is stored and read back.
    static let maximumDepth = JSONValue.maximumDepth

    private let buffer: UnsafeBufferPointer<UInt8>
    /// The offset of the next byte to read.
    private(set) var offset: Int
    /// Whether a number outside the range of `Double` reads as an infinity instead of throwing ``Malformed``.
    var overflowsToInfinity = false

    /// A reader of `buffer` starting at `offset`.
    init(_ buffer: UnsafeBufferPointer<UInt8>, at offset: Int = 0) {
        self.buffer = buffer
        self.offset = offset
    }

    // MARK: Whole documents

    /// Parses a whole document.
    /// - Throws: ``Malformed`` or ``TooDeep``.
    static func parse(_ bytes: some Collection<UInt8>) throws -> JSONValue {
        try withBuffer(bytes) { buffer in
            var reader = JSONReader(buffer)
            let value = try reader.readValue(level: 1)
            try reader.readEnd()
            return value
        }
    }

    /// Parses a whole document like ``parse(_:)``, except that when the document is an object, a member whose
    /// value nests deeper than ``maximumDepth`` does not fail the document: it is skipped (its syntax still
    /// checked, without recursion) and its name is returned in `tooDeep`. Numbers outside the range of `Double`
    /// read as infinities, for the caller to judge.
    ///
    /// Duplicate names keep the last occurrence here too: a name is in `tooDeep` only if its last value was.
    /// - Throws: ``Malformed``, or ``TooDeep`` when the document is not an object and nests too deeply.
    static func parseKeepingShallowMembers(
        _ bytes: some Collection<UInt8>
    ) throws -> (value: JSONValue, tooDeep: [String]) {
        try withBuffer(bytes) { buffer in
            var reader = JSONReader(buffer)
            reader.overflowsToInfinity = true
            guard try reader.peek() == UInt8(ascii: "{") else {
                let value = try reader.readValue(level: 1)
                try reader.readEnd()
                return (value, [])
            }
            var members: [String: JSONValue] = [:]
            members.reserveCapacity(16)  // A token response has about ten members: no rehashing while it grows.
            var tooDeep: [String] = []
            try reader.readObject { reader, name in
                let start = reader.offset
                do {
                    members[name] = try reader.readValue(level: 2)
                    tooDeep.removeAll { $0 == name }
                } catch is TooDeep {
                    reader.offset = start
                    try reader.skipValue(levels: .max)
                    members[name] = nil
                    if !tooDeep.contains(name) { tooDeep.append(name) }
                }
            }
            try reader.readEnd()
            return (.object(members), tooDeep)
        }
    }

    /// Calls `body` with the bytes as one contiguous buffer, copying them only if they are not contiguous.
    ///
    /// `Data` is read through `withUnsafeBytes`: its `withContiguousStorageIfAvailable` corrupts memory for some
    /// `Data` values on Linux (one that `URLSession` returns, for example).
    static func withBuffer<Result>(
        _ bytes: some Collection<UInt8>, _ body: (UnsafeBufferPointer<UInt8>) throws -> Result
    ) rethrows -> Result {
        if let data = bytes as? Data {
            return try data.withUnsafeBytes { raw in try body(raw.bindMemory(to: UInt8.self)) }
        }
        if let result = try bytes.withContiguousStorageIfAvailable(body) { return result }
        return try Array(bytes).withUnsafeBufferPointer(body)
    }

    // MARK: Structure

    private mutating func skipWhitespace() {
        while offset < buffer.count {
            switch buffer[offset] {
            case 0x20, 0x09, 0x0A, 0x0D: offset += 1
            default: return
            }
        }
    }

    /// The next non-whitespace byte, not consumed.
    private mutating func peek() throws -> UInt8 {
        skipWhitespace()
        guard offset < buffer.count else { throw Malformed() }
        return buffer[offset]
    }

    private mutating func consume(_ byte: UInt8) throws {
        guard try peek() == byte else { throw Malformed() }
        offset += 1
    }

    private mutating func consume(literal: StaticString) throws {
        let count = literal.utf8CodeUnitCount
        guard offset >= 0, buffer.count - offset >= count else { throw Malformed() }
        for index in 0..<count where buffer[offset + index] != literal.utf8Start[index] { throw Malformed() }
        offset += count
    }

    /// Only whitespace remains.
    mutating func readEnd() throws {
        skipWhitespace()
        guard offset == buffer.count else { throw Malformed() }
    }

    /// Reads an object, calling `member` with each name in document order; `member` must read the value.
    mutating func readObject(_ member: (inout JSONReader, String) throws -> Void) throws {
        guard offset >= 0 else { throw Malformed() }
        try consume(UInt8(ascii: "{"))
        if try peek() == UInt8(ascii: "}") {
            offset += 1
            return
        }
        while true {
            guard try peek() == UInt8(ascii: "\"") else { throw Malformed() }
            let name = try readString()
            try consume(UInt8(ascii: ":"))
            try member(&self, name)
            switch try peek() {
            case UInt8(ascii: ","): offset += 1
            case UInt8(ascii: "}"):
                offset += 1
                return
            default: throw Malformed()
            }
        }
    }

    /// Reads an array, calling `element` for each element; `element` must read it.
    mutating func readArray(_ element: (inout JSONReader) throws -> Void) throws {
        try consume(UInt8(ascii: "["))
        if try peek() == UInt8(ascii: "]") {
            offset += 1
            return
        }
        while true {
            try element(&self)
            switch try peek() {
            case UInt8(ascii: ","): offset += 1
            case UInt8(ascii: "]"):
                offset += 1
                return
            default: throw Malformed()
            }
        }
    }

    /// `nil` for a JSON `null`, else what `read` reads.
    mutating func readOptional<T>(_ read: (inout JSONReader) throws -> T) throws -> T? {
        if try peek() == UInt8(ascii: "n") {
            try consume(literal: "null")
            return nil
        }
        return try read(&self)
    }

    // MARK: Values

    /// Reads any value as a ``JSONValue``; an array or object in it may sit at most at level ``maximumDepth``,
    /// counting the value itself as `level`.
    mutating func readValue(level: Int) throws -> JSONValue {
        switch try peek() {
        case UInt8(ascii: "n"):
            try consume(literal: "null")
            return .null
        case UInt8(ascii: "t"):
            try consume(literal: "true")
            return .bool(true)
        case UInt8(ascii: "f"):
            try consume(literal: "false")
            return .bool(false)
        case UInt8(ascii: "\""): return .string(try readString())
        case UInt8(ascii: "["):
            guard level <= Self.maximumDepth else { throw TooDeep() }
            var elements: [JSONValue] = []
            try readArray { elements.append(try $0.readValue(level: level + 1)) }
            return .array(elements)
        case UInt8(ascii: "{"): return .object(try readObjectValue(level: level))
        default: return .number(try readDouble())
        }
    }

    /// Reads an object of ``JSONValue``s sitting at `level` (a repeated name keeps its last value).
    mutating func readObjectValue(level: Int) throws -> [String: JSONValue] {
        guard level <= Self.maximumDepth else { throw TooDeep() }
        var members: [String: JSONValue] = [:]
        if level == 1 { members.reserveCapacity(16) }  // A document's object (a token or error response).
        try readObject { reader, name in members[name] = try reader.readValue(level: level + 1) }
        return members
    }

    /// Skips any value, checking its syntax, without recursion and without building anything. Arrays and
    /// objects in it may nest `levels` deep, counting the value itself as level 1. Numbers are checked against
    /// the grammar only, not against the range of `Double`.
    mutating func skipValue(levels: Int = Self.maximumDepth) throws {
        var open: [UInt8] = []  // The closing byte of every container the value has open.
        nextValue: while true {
            switch try peek() {
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                let close = buffer[offset] == UInt8(ascii: "{") ? UInt8(ascii: "}") : UInt8(ascii: "]")
                offset += 1
                guard open.count < levels else { throw TooDeep() }
                if try peek() == close {
                    offset += 1
                } else {
                    open.append(close)
                    if close == UInt8(ascii: "}") { try skipMemberName() }
                    continue nextValue
                }
            case UInt8(ascii: "\""): _ = try readString()
            case UInt8(ascii: "n"): try consume(literal: "null")
            case UInt8(ascii: "t"): try consume(literal: "true")
            case UInt8(ascii: "f"): try consume(literal: "false")
            default: _ = try scanNumber()
            }
            // A value ended: close what it ends, or go on to the next element.
            while let close = open.last {
                switch try peek() {
                case UInt8(ascii: ","):
                    offset += 1
                    if close == UInt8(ascii: "}") { try skipMemberName() }
                    continue nextValue
                case close:
                    offset += 1
                    open.removeLast()
                default: throw Malformed()
                }
            }
            return
        }
    }

    private mutating func skipMemberName() throws {
        guard try peek() == UInt8(ascii: "\"") else { throw Malformed() }
        _ = try readString()
        try consume(UInt8(ascii: ":"))
    }

    // MARK: Strings

    mutating func readString() throws -> String {
        try consume(UInt8(ascii: "\""))
        let start = offset
        var bits: UInt8 = 0  // Every byte OR-ed together: below 0x80 for ASCII.
        while offset < buffer.count {
            let byte = buffer[offset]
            if byte == UInt8(ascii: "\"") {
                let text = try Self.string(UnsafeBufferPointer(rebasing: buffer[start..<offset]), isASCII: bits < 0x80)
                offset += 1
                return text
            }
            if byte == UInt8(ascii: "\\") { return try readEscapedString(from: start) }
            guard byte >= 0x20 else { throw Malformed() }
            bits |= byte
            offset += 1
        }
        throw Malformed()
    }

    /// `bytes` as a string; ``Malformed`` if they are not valid UTF-8. (`String(validating:as:)` is not
    /// specialized for UTF-8 and costs several times more; decoding repairs invalid input, so comparing the
    /// decoded bytes with the input detects it.)
    private static func string(_ bytes: UnsafeBufferPointer<UInt8>, isASCII: Bool) throws -> String {
        var text = String(decoding: bytes, as: UTF8.self)
        guard isASCII || text.withUTF8({ $0.elementsEqual(bytes) }) else { throw Malformed() }
        return text
    }

    /// The slow path of ``readString()``: the string at `start` has an escape at `offset`.
    private mutating func readEscapedString(from start: Int) throws -> String {
        var decoded = Array(UnsafeBufferPointer(rebasing: buffer[start..<offset]))
        while offset < buffer.count {
            let byte = buffer[offset]
            offset += 1
            switch byte {
            case UInt8(ascii: "\""):
                return try decoded.withUnsafeBufferPointer { try Self.string($0, isASCII: false) }
            case UInt8(ascii: "\\"):
                guard offset < buffer.count else { throw Malformed() }
                let escape = buffer[offset]
                offset += 1
                switch escape {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): decoded.append(escape)
                case UInt8(ascii: "b"): decoded.append(0x08)
                case UInt8(ascii: "f"): decoded.append(0x0C)
                case UInt8(ascii: "n"): decoded.append(0x0A)
                case UInt8(ascii: "r"): decoded.append(0x0D)
                case UInt8(ascii: "t"): decoded.append(0x09)
                case UInt8(ascii: "u"):
                    var scalar = try readHex4()
                    if (0xD800..<0xDC00).contains(scalar) {
                        try consume(literal: "\\u")
                        let low = try readHex4()
                        guard (0xDC00..<0xE000).contains(low) else { throw Malformed() }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    }
                    guard let unicode = Unicode.Scalar(scalar) else { throw Malformed() }
                    decoded.append(contentsOf: String(Character(unicode)).utf8)
                default: throw Malformed()
                }
            default:
                guard byte >= 0x20 else { throw Malformed() }
                decoded.append(byte)
            }
        }
        throw Malformed()
    }

    private mutating func readHex4() throws -> UInt32 {
        guard buffer.count - offset >= 4 else { throw Malformed() }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = buffer[offset]
            offset += 1
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: throw Malformed()
            }
            value = value << 4 | UInt32(digit)
        }
        return value
    }

    // MARK: Numbers

    /// Scans a number's grammar; returns its bytes' range and whether it is a plain integer.
    private mutating func scanNumber() throws -> (range: Range<Int>, isInteger: Bool) {
        skipWhitespace()
        let start = offset
        func digits(_ reader: inout JSONReader) -> Int {
            let first = reader.offset
            while reader.offset < reader.buffer.count,
                (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(reader.buffer[reader.offset])
            {
                reader.offset += 1
            }
            return reader.offset - first
        }
        if offset < buffer.count && buffer[offset] == UInt8(ascii: "-") { offset += 1 }
        let integerStart = offset
        let integerDigits = digits(&self)
        guard integerDigits > 0, integerDigits == 1 || buffer[integerStart] != UInt8(ascii: "0") else {
            throw Malformed()
        }
        var isInteger = true
        if offset < buffer.count && buffer[offset] == UInt8(ascii: ".") {
            offset += 1
            guard digits(&self) > 0 else { throw Malformed() }
            isInteger = false
        }
        if offset < buffer.count && (buffer[offset] == UInt8(ascii: "e") || buffer[offset] == UInt8(ascii: "E")) {
            offset += 1
            if offset < buffer.count && (buffer[offset] == UInt8(ascii: "+") || buffer[offset] == UInt8(ascii: "-")) {
                offset += 1
            }
            guard digits(&self) > 0 else { throw Malformed() }
            isInteger = false
        }
        return (start..<offset, isInteger)
    }

    /// Reads a number as the nearest `Double`.
    mutating func readDouble() throws -> Double {
        let number = try scanNumber()
        if number.isInteger && number.range.count <= 16 {
            // At most 16 bytes: the value fits an Int64 exactly, and converting that to a Double rounds it as
            // parsing the text would, without building the text.
            var value: Int64 = 0
            let negative = buffer[number.range.lowerBound] == UInt8(ascii: "-")
            for index in number.range.dropFirst(negative ? 1 : 0) {
                value = value * 10 + Int64(buffer[index] - UInt8(ascii: "0"))
            }
            return negative ? (value == 0 ? -0.0 : -Double(value)) : Double(value)
        }
        return try double(number.range)
    }

    private func double(_ range: Range<Int>) throws -> Double {
        let text = String(decoding: UnsafeBufferPointer(rebasing: buffer[range]), as: UTF8.self)
        guard let value = Double(text), value.isFinite || overflowsToInfinity else { throw Malformed() }
        return value
    }

    /// Reads a whole number in `0...UInt64.max` (`-0` and an exponent form such as `1e3` included).
    mutating func readUInt64() throws -> UInt64 {
        let number = try scanNumber()
        guard number.isInteger else {
            guard let value = UInt64(exactly: try double(number.range)) else { throw Malformed() }
            return value
        }
        guard buffer[number.range.lowerBound] != UInt8(ascii: "-") else {
            guard number.range.count == 2 && buffer[number.range.lowerBound + 1] == UInt8(ascii: "0") else {
                throw Malformed()
            }
            return 0
        }
        var value: UInt64 = 0
        for index in number.range {
            let (times10, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times10.addingReportingOverflow(UInt64(buffer[index] - UInt8(ascii: "0")))
            guard !overflow1 && !overflow2 else { throw Malformed() }
            value = sum
        }
        return value
    }

    /// Reads a whole number that fits an `Int`.
    mutating func readInt() throws -> Int {
        let number = try scanNumber()
        guard number.isInteger else {
            guard let value = Int(exactly: try double(number.range)) else { throw Malformed() }
            return value
        }
        let text = String(decoding: UnsafeBufferPointer(rebasing: buffer[number.range]), as: UTF8.self)
        guard let value = Int(text) else { throw Malformed() }
        return value
    }
}
