import Logging
import UPVault

/// The libraries log to the `Logger` their caller passes; the CLI passes one that writes to stderr
/// only when asked (`--verbose` is debug, `UPVAULT_LOG=trace|debug|info|notice|warning|error`).
/// The libraries never log a token, a code, a client secret or a passphrase, whatever the level.
enum Diagnostics {
    static func logger(verbose: Bool, environment: [String: String]) -> Logger {
        let level =
            environment["UPVAULT_LOG"].flatMap { Logger.Level(rawValue: $0.lowercased()) } ?? (verbose ? .debug : nil)
        guard let level else { return Vault.silentLogger }
        var logger = Logger(label: "upvault") { label in StreamLogHandler.standardError(label: label) }
        logger.logLevel = level
        return logger
    }
}
