import UPVault

/// The documented, stable exit codes (README "Exit codes").
enum ExitStatus: Int32 {
    case success = 0
    case failure = 1
    case usage = 64
    case integrity = 65
    case locked = 75
    case wrongPassphrase = 77

    static func of(_ error: VaultError) -> ExitStatus {
        switch error {
        case .integrity, .unsupportedFormatVersion, .kdfParametersOutOfBounds: .integrity
        case .wrongPassphraseOrDamagedHeader: .wrongPassphrase
        case .invalidName, .valueTooLarge: .usage
        default: .failure
        }
    }

    static func of(_ error: PassphraseError) -> ExitStatus {
        switch error {
        case .unavailable: .locked
        case .empty, .tooLong, .mismatch, .malformedRecoveryKey: .usage
        case .insecureFile, .io: .failure
        }
    }
}

/// Errors of the CLI's own making.
struct CLIError: Error, CustomStringConvertible {
    var description: String
    var exitStatus: ExitStatus = .failure
}
