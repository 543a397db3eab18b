import ArgumentParser
import UPVault
import UPVaultPostgres

struct Init: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Create a new vault (never overwrites one).",
        discussion:
            "The passphrase is asked twice on the terminal, or read once from --passphrase-fd or UPVAULT_PASSPHRASE_FILE."
    )

    @OptionGroup var options: GlobalOptions

    @Option(
        help: ArgumentHelp(
            "Argon2id cost: interactive, moderate (default, about a second), sensitive, or OPS:MIB (ops 1-10, 8-1024 MiB).",
            valueName: "cost"))
    var kdf: KDFChoice = KDFChoice(argument: "moderate")!

    @Flag(help: "Also make a recovery key, shown once, that opens the vault if the passphrase is lost.")
    var recoveryKey = false

    func run() throws {
        let location = try options.location()
        let path = location.description
        if case .file = location, Vault.exists(at: path) { throw VaultError.vaultExists(path: path) }
        let passphrase = try options.passphraseSource.readNew(
            prompt: "New passphrase for \(path): ", confirmation: "Repeat the passphrase: ")
        let vault = try location.create(
            passphrase: passphrase, kdf: kdf.parameters, environment: options.environment, logger: options.logger)
        let recovery: String? = recoveryKey ? RecoveryKeyText.format(try vault.addRecoveryKey()) : nil
        if options.json {
            try JSONOutput.print(InitReport(path: path, kdf: kdf.parameters.description, recoveryKey: recovery))
            return
        }
        Terminal.out("Created vault \(path) (\(kdf.parameters))\n")
        if let recovery {
            Terminal.out("Recovery key (shown once; store it offline):\n\(recovery)\n")
        }
    }

    struct InitReport: Encodable {
        var path: String
        var kdf: String
        var recoveryKey: String?
    }
}
