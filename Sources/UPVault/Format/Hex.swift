/// Hexadecimal digits, both ways: the one place the package writes bytes as hex (ids, fingerprints,
/// row names in messages, `%XX` escapes) and reads a hex digit back.
package enum Hex {
    package static let lowercaseDigits: [UInt8] = Array("0123456789abcdef".utf8)
    package static let uppercaseDigits: [UInt8] = Array("0123456789ABCDEF".utf8)

    /// Two lower-case digits per byte.
    package static func lowercase(_ bytes: some Sequence<UInt8>) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.underestimatedCount * 2)
        for byte in bytes {
            out.append(lowercaseDigits[Int(byte >> 4)])
            out.append(lowercaseDigits[Int(byte & 0xF)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The value of one hex digit (either case), or nil for any other byte.
    package static func value(of digit: UInt8) -> UInt8? {
        switch digit {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): digit - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): digit - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): digit - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
