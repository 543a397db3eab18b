#if canImport(Glibc)
import Glibc
#endif

/// A secret value given to a program (a client secret, a named secret): never on its command line,
/// read from standard input straight into secure memory, or from a no-echo prompt on the terminal.
public enum SecretInput {
    /// The largest value read (a vault value's limit).
    public static let maximumLength = 1 << 20

    /// The value on standard input (all of it, at most `maximumLength` bytes; without `raw`, one trailing
    /// newline and a CR before it are dropped) or, when standard input is a terminal, one line typed at
    /// a no-echo prompt naming `name`.
    public static func read(name: String, raw: Bool = false) throws -> SecureBytes {
        if isatty(0) == 1 { return try PassphraseSource.terminal.read(prompt: "Value for secret '\(name)': ") }
        var buffer = SecureBytes(count: maximumLength + 1)
        var length = 0
        try buffer.withUnsafeMutableBytes { (out) throws(VaultError) in
            while length < out.count {
                do throws(Errno) {
                    let count = try syscall { Glibc.read(0, out.baseAddress! + length, out.count - length) }
                    if count == 0 { break }
                    length += count
                } catch {
                    throw .io(operation: "read", path: "stdin", errno: error.code)
                }
            }
            if !raw && length > 0 && out[length - 1] == UInt8(ascii: "\n") {
                length -= 1
                if length > 0 && out[length - 1] == UInt8(ascii: "\r") { length -= 1 }
            }
        }
        guard length <= maximumLength else { throw VaultError.valueTooLarge(byteCount: length) }
        return buffer.prefix(length)
    }

    /// A value that must be one line of text (a client secret); empty when it is not text.
    public static func readLine(name: String) throws -> String {
        try read(name: name).utf8String() ?? ""
    }
}
