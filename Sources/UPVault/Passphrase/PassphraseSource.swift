internal import CPosixShims

#if canImport(Glibc)
import Glibc
#endif

/// Where a passphrase comes from. Never the command line: argv is visible to every user on the machine.
public enum PassphraseSource: Sendable, Equatable {
    /// One line read from an open file descriptor (`--passphrase-fd N`); several reads take successive lines.
    case fileDescriptor(Int32)
    /// The first line of a file that only its owner can read (`UPVAULT_PASSPHRASE_FILE`).
    case file(String)
    /// The controlling terminal, with echo off.
    case terminal

    /// The longest passphrase accepted.
    public static let maximumLength = 1024

    /// The source to use: the descriptor if given, else the file named by `UPVAULT_PASSPHRASE_FILE`
    /// (or `fileVariable`) in `environment`, else the terminal.
    public static func resolve(
        descriptor: Int32?, environment: [String: String], fileVariable: String = "UPVAULT_PASSPHRASE_FILE"
    ) -> PassphraseSource {
        if let descriptor { return .fileDescriptor(descriptor) }
        if let path = environment[fileVariable], !path.isEmpty { return .file(path) }
        return .terminal
    }

    /// Reads one passphrase. `prompt` is shown on the terminal only. Throws `.unavailable` at once when
    /// the source is the terminal and there is none, rather than waiting for input nobody can give.
    public func read(prompt: String) throws(PassphraseError) -> SecureBytes {
        let passphrase: SecureBytes
        switch self {
        case .fileDescriptor(let fd):
            passphrase = try Self.readLine(from: fd, source: "file descriptor \(fd)")
        case .file(let path):
            passphrase = try Self.readFile(path)
        case .terminal:
            passphrase = try Self.readTerminal(prompt: prompt)
        }
        guard !passphrase.isEmpty else { throw .empty }
        return passphrase
    }

    /// Reads a new passphrase: from a terminal twice, compared in constant time; else once.
    public func readNew(prompt: String, confirmation: String) throws(PassphraseError) -> SecureBytes {
        let first = try read(prompt: prompt)
        guard self == .terminal else { return first }
        let second = try read(prompt: confirmation)
        guard first.isEqual(to: second) else { throw .mismatch }
        return first
    }

    static func readLine(from fd: Int32, source: String) throws(PassphraseError) -> SecureBytes {
        var buffer = SecureBytes(count: maximumLength)
        var length = 0
        var overflow = false
        try buffer.withUnsafeMutableBytes { (out) throws(PassphraseError) in
            var byte: UInt8 = 0
            while true {
                let result = Glibc.read(fd, &byte, 1)
                if result < 0 {
                    if errno == EINTR { continue }
                    throw .io(source: source, errno: errno)
                }
                if result == 0 || byte == UInt8(ascii: "\n") { break }
                if length < out.count {
                    out[length] = byte
                    length += 1
                } else {
                    overflow = true
                }
            }
            byte = 0
            if length > 0 && out[length - 1] == UInt8(ascii: "\r") { length -= 1 }
        }
        if overflow { throw .tooLong(limit: maximumLength) }
        return buffer.prefix(length)
    }

    static func readFile(_ path: String) throws(PassphraseError) -> SecureBytes {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else { throw .io(source: path, errno: errno) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw .io(source: path, errno: errno) }
        guard info.st_uid == geteuid(), UInt32(info.st_mode) & 0o077 == 0 else {
            throw .insecureFile(path: path, mode: UInt32(info.st_mode))
        }
        return try readLine(from: fd, source: path)
    }

    static func readTerminal(prompt: String) throws(PassphraseError) -> SecureBytes {
        var buffer = SecureBytes(count: maximumLength)
        var length = 0
        let status = buffer.withUnsafeMutableBytes { out in
            upv_read_passphrase(prompt, out.baseAddress!.assumingMemoryBound(to: UInt8.self), out.count, &length)
        }
        switch status {
        case 0: return buffer.prefix(length)
        case -2: throw .tooLong(limit: maximumLength)
        default:
            let code = errno
            if code == ENXIO || code == ENOTTY || code == ENOENT || code == EACCES { throw .unavailable }
            throw .io(source: "/dev/tty", errno: code)
        }
    }
}
