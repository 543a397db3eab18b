import ArgumentParser

#if canImport(Glibc)
import Glibc
#endif

struct UPVaultCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "upvault",
        abstract: "Keep OAuth client secrets, user tokens and other secrets in an encrypted vault.",
        discussion: """
            Exit codes: 0 ok, 1 error, 3 the grant needs re-authorization (log in again), 4 some grants \
            failed (refresh) or something needs action (audit), 64 usage, \
            65 vault damaged or tampered with, 69 provider unavailable (network, 5xx, 429), 73 busy (try again), \
            75 locked (no way to ask for the passphrase), 77 wrong passphrase.
            """,
        version: "0.1.0",
        subcommands: [
            Init.self, Unlock.self, Lock.self, SecretCommand.self, AppCommand.self, Login.self, Token.self,
            Exec.self, Inject.self, Grants.self, Refresh.self, Revoke.self, AuditCommand.self, API.self,
            RecoverRefreshToken.self,
            Import.self, Export.self, Passwd.self, Rekey.self, Status.self, Fsck.self, Compact.self, Migrate.self,
            AgentCommand.self,
        ]
    )

    /// Parses, runs, and turns every error into its documented exit code and one line on stderr.
    static func runAndExit() async -> Never {
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
            Glibc.exit(0)
        } catch let error where ExitStatus.describe(error) != nil {
            let (message, code) = ExitStatus.describe(error)!
            Terminal.error(message)
            Glibc.exit(code)
        } catch {
            // Help, version and usage errors, formatted by ArgumentParser (usage exits 64).
            Self.exit(withError: error)
        }
    }
}
