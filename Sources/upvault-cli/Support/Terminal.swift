import UPVault

#if canImport(Glibc)
import Glibc
#endif

/// stdout for results, stderr for messages, stdin for what the user pastes or pipes in: the CLI's only
/// I/O outside the libraries. Nothing secret goes to stderr.
enum Terminal {
    static func error(_ message: String) {
        writeAll(2, "upvault: \(message)\n")
    }

    static func warning(_ message: String) {
        writeAll(2, "upvault: warning: \(message)\n")
    }

    /// A message for the person at the terminal (URLs to open, prompts), on stderr without a prefix.
    static func message(_ text: String) {
        writeAll(2, text)
    }

    static func out(_ text: String) {
        writeAll(1, text)
    }

    /// Writes secret bytes to stdout without copying them onto the heap.
    static func out(_ bytes: borrowing SecureBytes) {
        bytes.withUnsafeBytes { raw in writeAll(1, raw) }
    }

    static var standardInputIsTerminal: Bool { isatty(0) == 1 }

    /// Whether messages go to a terminal (a progress display is drawn only there).
    static var standardErrorIsTerminal: Bool { isatty(2) == 1 }

    private static func writeAll(_ fd: Int32, _ text: String) {
        var copy = text
        copy.withUTF8 { writeAll(fd, UnsafeRawBufferPointer($0)) }
    }

    private static func writeAll(_ fd: Int32, _ raw: UnsafeRawBufferPointer) {
        var offset = 0
        while offset < raw.count {
            let written = write(fd, raw.baseAddress! + offset, raw.count - offset)
            if written < 0 {
                if errno == EINTR { continue }
                return
            }
            offset += written
        }
    }

    /// One line from stdin (at most 8 KiB), without its line ending; nil at end of input.
    static func readLine(prompt: String?) -> String? {
        if let prompt, standardInputIsTerminal { message(prompt) }
        var bytes: [UInt8] = []
        var byte: UInt8 = 0
        while bytes.count <= 8192 {
            let count = read(0, &byte, 1)
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { return bytes.isEmpty ? nil : String(decoding: bytes, as: UTF8.self) }
            if byte == UInt8(ascii: "\n") { break }
            bytes.append(byte)
        }
        if bytes.last == UInt8(ascii: "\r") { bytes.removeLast() }
        return String(decoding: bytes, as: UTF8.self)
    }
}
