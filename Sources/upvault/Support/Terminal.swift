import UPVault

#if canImport(Glibc)
import Glibc
#endif

/// stdout for results, stderr for messages. Nothing secret goes to stderr.
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
}
