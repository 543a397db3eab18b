/// Why a passphrase (or recovery key, or secret value) could not be read.
public enum PassphraseError: Error, Sendable, Equatable, CustomStringConvertible {
    /// No way to ask: no terminal, no `--passphrase-fd`, no `UPVAULT_PASSPHRASE_FILE`. The vault stays locked.
    case unavailable
    /// The passphrase is empty.
    case empty
    /// The passphrase is longer than the limit (1024 bytes).
    case tooLong(limit: Int)
    /// The two entries of a new passphrase differ.
    case mismatch
    /// The passphrase file can be read by group or others, or is not ours.
    case insecureFile(path: String, mode: UInt32)
    /// The passphrase source could not be read.
    case io(source: String, errno: Int32)
    /// The recovery key is not 64 hexadecimal digits.
    case malformedRecoveryKey

    public var description: String {
        switch self {
        case .unavailable:
            "vault is locked and there is no way to ask for the passphrase (no terminal; use --passphrase-fd or UPVAULT_PASSPHRASE_FILE)"
        case .empty: "the passphrase is empty"
        case .tooLong(let limit): "the passphrase is longer than \(limit) bytes"
        case .mismatch: "the passphrases do not match"
        case .insecureFile(let path, let mode):
            "refusing passphrase file \(path): it must belong to you and be readable by you alone (chmod 600; mode is \(String(mode & 0o7777, radix: 8)))"
        case .io(let source, let code): "cannot read the passphrase from \(source): \(Errno.describe(code))"
        case .malformedRecoveryKey: "a recovery key is 64 hexadecimal digits (dashes and spaces are ignored)"
        }
    }
}
