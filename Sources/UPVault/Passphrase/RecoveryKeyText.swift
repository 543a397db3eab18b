/// The 32-byte recovery key as shown to users: 64 hex digits in groups of eight.
public enum RecoveryKeyText {
    public static func format(_ key: borrowing SecureBytes) -> String {
        key.withUnsafeBytes { raw in
            var groups: [String] = []
            var current = ""
            for (index, byte) in raw.enumerated() {
                current += (byte < 16 ? "0" : "") + String(byte, radix: 16)
                if index % 4 == 3 {
                    groups.append(current)
                    current = ""
                }
            }
            return groups.joined(separator: "-")
        }
    }

    /// Parses what `format` printed (dashes and white space ignored, either case).
    public static func parse(_ text: borrowing SecureBytes) throws(PassphraseError) -> SecureBytes {
        var key = SecureBytes(count: 32)
        var digits = 0
        var ok = true
        text.withUnsafeBytes { raw in
            key.withUnsafeMutableBytes { out in
                for byte in raw {
                    let value: UInt8
                    switch byte {
                    case UInt8(ascii: "0")...UInt8(ascii: "9"): value = byte - UInt8(ascii: "0")
                    case UInt8(ascii: "a")...UInt8(ascii: "f"): value = byte - UInt8(ascii: "a") + 10
                    case UInt8(ascii: "A")...UInt8(ascii: "F"): value = byte - UInt8(ascii: "A") + 10
                    case UInt8(ascii: "-"), UInt8(ascii: " "), UInt8(ascii: "\t"): continue
                    default:
                        ok = false
                        return
                    }
                    guard digits < 64 else {
                        ok = false
                        return
                    }
                    out[digits / 2] |= digits % 2 == 0 ? value << 4 : value
                    digits += 1
                }
            }
        }
        guard ok, digits == 64 else { throw .malformedRecoveryKey }
        return key
    }
}
