/// What kind of failure an error is, for whoever must decide what to do next: the CLI maps each
/// category to one documented exit code (README "Exit codes"), and the agent sends it across the wire
/// instead of an exit code. Every error type of the libraries says its category.
public enum FailureCategory: String, Codable, Sendable, CaseIterable {
    /// Anything not below (exit 1).
    case failure
    /// The grant needs the user to log in again: invalid_grant, revoked, access denied (exit 3).
    case needsReauthorization = "needs_reauthorization"
    /// Some items of a bulk operation failed, or an audit found something needing action (exit 4).
    case someFailed = "some_failed"
    /// The request itself is wrong: a bad argument, an ambiguous choice, a refused overwrite (exit 64).
    case usage
    /// The vault is damaged or was tampered with (exit 65).
    case integrity
    /// The provider (or the vault's database) could not be reached, failed (5xx) or is rate limiting (429):
    /// try again later (exit 69).
    case unavailable
    /// The vault is locked and there is no way to ask for the passphrase (exit 75).
    case locked
    /// Busy: the agent has no room for another connection, or the vault's lock stayed held past its
    /// time-out. Try again (exit 73).
    case busy
    /// Wrong passphrase or recovery key, or damaged key slots (exit 77).
    case wrongPassphrase = "wrong_passphrase"
}

extension FailureCategory {
    /// The documented exit code of the category (README "Exit codes"), the same from every front end.
    public var exitCode: Int32 {
        switch self {
        case .failure: 1
        case .needsReauthorization: 3
        case .someFailed: 4
        case .usage: 64
        case .integrity: 65
        case .unavailable: 69
        case .busy: 73
        case .locked: 75
        case .wrongPassphrase: 77
        }
    }
}

/// An error that knows its `FailureCategory`.
public protocol CategorizedError: Error, CustomStringConvertible {
    var category: FailureCategory { get }
}

extension FailureCategory {
    /// The category of any error: its own when it is a `CategorizedError`, else `failure`.
    public init(of error: any Error) {
        self = (error as? any CategorizedError)?.category ?? .failure
    }
}

extension VaultError: CategorizedError {
    public var category: FailureCategory {
        switch self {
        case .integrity, .unsupportedFormatVersion, .kdfParametersOutOfBounds: .integrity
        case .wrongPassphraseOrDamagedHeader: .wrongPassphrase
        case .invalidName, .valueTooLarge: .usage
        case .lockTimeout, .conflict: .busy
        default: .failure
        }
    }
}

extension PassphraseError: CategorizedError {
    public var category: FailureCategory {
        switch self {
        case .unavailable: .locked
        case .empty, .tooLong, .mismatch, .malformedRecoveryKey: .usage
        case .insecureFile, .io: .failure
        }
    }
}

extension SelectionError: CategorizedError {
    public var category: FailureCategory { isAmbiguity ? .usage : .failure }
}

extension AgentError: CategorizedError {
    public var category: FailureCategory {
        switch self {
        case .socketPathTooLong: .usage
        case .refused(_, let category): category
        default: .failure
        }
    }
}
