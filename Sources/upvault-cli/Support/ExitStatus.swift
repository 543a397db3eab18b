import ArgumentParser
import UPVault

/// The documented, stable exit codes (README "Exit codes"): one per `FailureCategory`.
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
    /// Busy: the agent had no room for another connection, or the vault's lock stayed held: try again.
    case busy = 73
    case locked = 75
    case wrongPassphrase = 77

    init(_ category: FailureCategory) {
        self = ExitStatus(rawValue: category.exitCode) ?? .failure
    }

    /// The one line and the exit code for every error the libraries know; nil for ArgumentParser's own.
    static func describe(_ error: any Error) -> (message: String, code: Int32)? {
        if let error = error as? CLIError, let code = error.exit { return (error.description, code) }
        guard let error = error as? any CategorizedError else { return nil }
        return (error.description, ExitStatus(error.category).rawValue)
    }

    /// Ends the command with this status (after its output is written).
    var exitCode: ExitCode { ExitCode(rawValue) }
}

/// A failure only the CLI can have (output it cannot produce as asked, a program `exec` cannot run).
struct CLIError: CategorizedError {
    var description: String
    var category: FailureCategory = .failure
    /// An exit code of its own (126, 127 for `exec`, as a shell has them), else the category's.
    var exit: Int32?
}
