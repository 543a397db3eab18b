import ArgumentParser
import UPVault

#if canImport(Glibc)
import Glibc
#endif

struct UPVaultCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "upvault",
        abstract: "Keep OAuth client secrets, user tokens and other secrets in an encrypted vault.",
        discussion: """
            Exit codes: 0 ok, 1 error, 64 usage, 65 vault damaged or tampered with, \
            75 locked (no way to ask for the passphrase), 77 wrong passphrase.
            """,
        version: "0.1.0",
        subcommands: [
            Init.self, SecretCommand.self, Passwd.self, Rekey.self, Status.self, Fsck.self, Compact.self,
        ]
    )

    /// Parses, runs, and turns every error into its documented exit code and one line on stderr.
    static func runAndExit() -> Never {
        do {
            var command = try parseAsRoot()
            try command.run()
            Glibc.exit(0)
        } catch let error as VaultError {
            fail(error.description, code: ExitStatus.of(error))
        } catch let error as PassphraseError {
            fail(error.description, code: ExitStatus.of(error))
        } catch let error as CLIError {
            fail(error.description, code: error.exitStatus)
        } catch {
            // Help, version and usage errors, formatted by ArgumentParser (usage exits 64).
            Self.exit(withError: error)
        }
    }

    static func fail(_ message: String, code: ExitStatus) -> Never {
        Terminal.error(message)
        Glibc.exit(code.rawValue)
    }
}
