import UPVault
import UPVaultAgent
import UPVaultOAuth

/// The documented, stable exit codes (README "Exit codes").
enum ExitStatus: Int32 {
    case success = 0
    case failure = 1
    /// The grant needs the user to log in again (invalid_grant, revoked, access denied).
    case needsReauthorization = 3
    /// Some grants failed (bulk refresh), or something needs action (audit).
    case someFailed = 4
    case usage = 64
    case integrity = 65
    /// The provider could not be reached, failed (5xx) or is rate limiting (429): try again later.
    case unavailable = 69
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

    static func of(_ error: OAuthError) -> ExitStatus {
        switch error {
        case .vault(let error): of(error)
        case .agent(.refused(_, let code)): ExitStatus(rawValue: code) ?? .failure
        case .agent(let error): of(error)
        case _ where error.needsReauthorization: .needsReauthorization
        case _ where error.isTransient: .unavailable
        case .insecureEndpoint, .invalidArgument, .malformedURL: .usage
        default: .failure
        }
    }

    static func of(_ error: KieferError) -> ExitStatus {
        switch error {
        case .grantExists, .appConflict: .usage
        default: .failure
        }
    }

    static func of(_ error: AgentError) -> ExitStatus {
        switch error {
        case .socketPathTooLong: .usage
        default: .failure
        }
    }

    /// The one line and the exit code for every error upvault knows; nil for ArgumentParser's own.
    static func describe(_ error: any Error) -> (message: String, code: Int32)? {
        switch error {
        case let error as VaultError: (error.description, of(error).rawValue)
        case let error as PassphraseError: (error.description, of(error).rawValue)
        case let error as OAuthError: (error.description, of(error).rawValue)
        case let error as KieferError: (error.description, of(error).rawValue)
        case let error as CLIError: (error.description, error.exitStatus.rawValue)
        case let error as BulkRefreshError: (error.description, ExitStatus.failure.rawValue)
        case let error as SelectionError: (error.description, (error.isAmbiguity ? ExitStatus.usage : .failure).rawValue)
        case let error as ReferenceError: (error.description, (error.isUsage ? ExitStatus.usage : .failure).rawValue)
        case AgentError.refused(let message, let code): (message, code)
        case let error as AgentError: (error.description, of(error).rawValue)
        default: nil
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
