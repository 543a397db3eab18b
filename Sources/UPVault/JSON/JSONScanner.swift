/// A strict JSON reader (RFC 8259) over bytes in memory, for the hot paths where Foundation's decoder
/// costs more than the work around it: the grants of a million-entry vault, a token answer per refresh,
/// an import file streamed item by item. It reads what those hold (objects of scalar fields) and skips
/// anything nested; every byte is checked, nothing is trusted to be well formed.
///
/// `truncated` means the bytes ended inside a value: a streaming reader reads more and tries again;
/// everything else is `malformed`.
package struct JSONScanner {
    package enum Failure: Error, Equatable, Sendable {
        /// The bytes end before the value does.
        case truncated
        /// Not JSON, or nested deeper than the limit; the offset where reading stopped.
        case malformed(offset: Int)
    }

    /// A field's value, for the objects of scalars these paths read.
    package enum Scalar: Equatable, Sendable {
        case string(String)
        /// A number without fraction or exponent that fits in 64 bits.
        case integer(Int64)
        /// Any other number.
        case number(Double)
        case bool(Bool)
        case null
        /// An object or array (skipped, and checked to be well formed).
        case nested
    }

    package let bytes: UnsafeRawBufferPointer
    package private(set) var offset: Int
    private let maximumDepth: Int

    package init(_ bytes: UnsafeRawBufferPointer, offset: Int = 0, maximumDepth: Int = 64) {
        self.bytes = bytes
        self.offset = offset
        self.maximumDepth = maximumDepth
    }

    // MARK: Structure

    /// Skips spaces, tabs and line ends; returns the next byte without consuming it (nil at the end).
    package mutating func peek() -> UInt8? {
        while offset < bytes.count {
            switch bytes[offset] {
            case 0x20, 0x09, 0x0A, 0x0D: offset += 1
            case let byte: return byte
            }
        }
        return nil
    }

    /// Consumes `byte` (after whitespace) or fails.
    package mutating func expect(_ byte: UInt8) throws(Failure) {
        guard let next = peek() else { throw .truncated }
        guard next == byte else { throw .malformed(offset: offset) }
        offset += 1
    }

    /// Consumes `byte` when it is next (after whitespace).
    package mutating func consume(_ byte: UInt8) throws(Failure) -> Bool {
        guard let next = peek() else { throw .truncated }
        guard next == byte else { return false }
        offset += 1
        return true
    }

    /// Reads one object, calling `field` for each member with its key and value, in order. A nested
    /// value is skipped (and reported as `.nested`).
    package mutating func readObject(_ field: (String, Scalar) -> Void) throws(Failure) {
        try expect(UInt8(ascii: "{"))
        if try consume(UInt8(ascii: "}")) { return }
        while true {
            guard let next = peek() else { throw .truncated }
            guard next == UInt8(ascii: "\"") else { throw .malformed(offset: offset) }
            let key = try readString()
            try expect(UInt8(ascii: ":"))
            field(key, try readScalar())
            if try consume(UInt8(ascii: ",")) { continue }
            try expect(UInt8(ascii: "}"))
            return
        }
    }

    // MARK: Values

    package mutating func readScalar() throws(Failure) -> Scalar {
        guard let next = peek() else { throw .truncated }
        switch next {
        case UInt8(ascii: "\""): return .string(try readString())
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            try skipValue(depth: 0)
            return .nested
        case UInt8(ascii: "t"):
            try literal("true")
            return .bool(true)
        case UInt8(ascii: "f"):
            try literal("false")
            return .bool(false)
        case UInt8(ascii: "n"):
            try literal("null")
            return .null
        default: return try readNumber()
        }
    }

    /// Skips one value of any kind, checking it.
    package mutating func skipValue() throws(Failure) {
        try skipValue(depth: 0)
    }

    private mutating func skipValue(depth: Int) throws(Failure) {
        guard let next = peek() else { throw .truncated }
        switch next {
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            guard depth < maximumDepth else { throw .malformed(offset: offset) }
            let close = next == UInt8(ascii: "{") ? UInt8(ascii: "}") : UInt8(ascii: "]")
            offset += 1
            if try consume(close) { return }
            while true {
                if close == UInt8(ascii: "}") {
                    guard let next = peek() else { throw .truncated }
                    guard next == UInt8(ascii: "\"") else { throw .malformed(offset: offset) }
                    _ = try readString()
                    try expect(UInt8(ascii: ":"))
                }
                try skipValue(depth: depth + 1)
                if try consume(UInt8(ascii: ",")) { continue }
                try expect(close)
                return
            }
        default:
            _ = try readScalar()
        }
    }

    private mutating func literal(_ word: StaticString) throws(Failure) {
        let count = word.utf8CodeUnitCount
        for index in 0..<count {
            guard offset + index < bytes.count else { throw .truncated }
            guard bytes[offset + index] == word.utf8Start[index] else { throw .malformed(offset: offset + index) }
        }
        offset += count
    }

    /// A number: `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`.
    package mutating func readNumber() throws(Failure) -> Scalar {
        let start = offset
        var index = offset
        func digits() throws(Failure) -> Int {
            let first = index
            while index < bytes.count, (0x30...0x39).contains(bytes[index]) { index += 1 }
            if index == bytes.count { throw .truncated }  // a number's end is only known at its next byte
            return index - first
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "-") { index += 1 }
        guard index < bytes.count else { throw .truncated }
        guard (0x30...0x39).contains(bytes[index]) else { throw .malformed(offset: index) }
        let leadingZero = bytes[index] == 0x30
        let integerDigits = try digits()
        if leadingZero && integerDigits > 1 { throw .malformed(offset: start) }
        var integral = true
        if bytes[index] == UInt8(ascii: ".") {
            index += 1
            guard try digits() > 0 else { throw .malformed(offset: index) }
            integral = false
        }
        if bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            index += 1
            guard index < bytes.count else { throw .truncated }
            if bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") { index += 1 }
            guard try digits() > 0 else { throw .malformed(offset: index) }
            integral = false
        }
        offset = index
        let text = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
        if integral, let value = Int64(text) { return .integer(value) }
        guard let value = Double(text) else { throw .malformed(offset: start) }
        return .number(value)
    }

    /// A string, its escapes decoded; invalid UTF-8, control characters and lone surrogates are
    /// malformed.
    package mutating func readString() throws(Failure) -> String {
        try expect(UInt8(ascii: "\""))
        let start = offset
        // The common case: no escape, so the bytes are the string.
        var index = offset
        var ascii = true
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                let raw = UnsafeRawBufferPointer(rebasing: bytes[start..<index])
                // ASCII needs no validation (the usual case: tokens, names); anything else is checked.
                let text = ascii ? String(decoding: raw, as: UTF8.self) : String(validating: raw, as: UTF8.self)
                guard let text else { throw .malformed(offset: start) }
                offset = index + 1
                return text
            }
            if byte == UInt8(ascii: "\\") { break }
            if byte < 0x20 { throw .malformed(offset: index) }
            if byte >= 0x80 { ascii = false }
            index += 1
        }
        if index == bytes.count { throw .truncated }
        var decoded = Array(UnsafeRawBufferPointer(rebasing: bytes[start..<index]))
        while true {
            guard index < bytes.count else { throw .truncated }
            let byte = bytes[index]
            switch byte {
            case UInt8(ascii: "\""):
                guard let text = String(validating: decoded, as: UTF8.self) else { throw .malformed(offset: start) }
                offset = index + 1
                return text
            case UInt8(ascii: "\\"):
                guard index + 1 < bytes.count else { throw .truncated }
                index += 2
                switch bytes[index - 1] {
                case UInt8(ascii: "\""): decoded.append(0x22)
                case UInt8(ascii: "\\"): decoded.append(0x5C)
                case UInt8(ascii: "/"): decoded.append(0x2F)
                case UInt8(ascii: "b"): decoded.append(0x08)
                case UInt8(ascii: "f"): decoded.append(0x0C)
                case UInt8(ascii: "n"): decoded.append(0x0A)
                case UInt8(ascii: "r"): decoded.append(0x0D)
                case UInt8(ascii: "t"): decoded.append(0x09)
                case UInt8(ascii: "u"):
                    var scalar = try hex4(at: &index)
                    if (0xD800...0xDBFF).contains(scalar) {
                        // A high surrogate must be followed by `\u` and a low one.
                        guard index < bytes.count else { throw .truncated }
                        guard bytes[index] == UInt8(ascii: "\\") else { throw .malformed(offset: index) }
                        guard index + 1 < bytes.count else { throw .truncated }
                        guard bytes[index + 1] == UInt8(ascii: "u") else { throw .malformed(offset: index) }
                        index += 2
                        let low = try hex4(at: &index)
                        guard (0xDC00...0xDFFF).contains(low) else { throw .malformed(offset: index) }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    } else if (0xDC00...0xDFFF).contains(scalar) {
                        throw .malformed(offset: index)
                    }
                    decoded.append(contentsOf: String(Character(Unicode.Scalar(scalar)!)).utf8)
                default:
                    throw .malformed(offset: index - 1)
                }
            default:
                if byte < 0x20 { throw .malformed(offset: index) }
                decoded.append(byte)
                index += 1
            }
        }
    }

    private func hex4(at index: inout Int) throws(Failure) -> UInt32 {
        guard index + 4 <= bytes.count else { throw .truncated }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = bytes[index]
            let digit: UInt32
            switch byte {
            case 0x30...0x39: digit = UInt32(byte - 0x30)
            case 0x41...0x46: digit = UInt32(byte - 0x41 + 10)
            case 0x61...0x66: digit = UInt32(byte - 0x61 + 10)
            default: throw .malformed(offset: index)
            }
            value = value << 4 | digit
            index += 1
        }
        return value
    }
}
