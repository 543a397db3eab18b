import ArgumentParser
import UPVault
import UPVaultPostgres

struct Passwd: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "passwd",
        abstract: "Change the passphrase (the master key stays; the file is rewritten atomically).",
        discussion: """
            The current passphrase (or, with --recovery-key, the recovery key) comes from the usual source; \
            the new one from --new-passphrase-fd, UPVAULT_NEW_PASSPHRASE_FILE or the terminal (asked twice). \
            The same descriptor may carry both, one per line.
            """)

    @OptionGroup var options: GlobalOptions

    @Flag(help: "Unlock with the recovery key instead of the current passphrase.")
    var recoveryKey = false

    @Option(help: ArgumentHelp("Read the new passphrase from this file descriptor.", valueName: "fd"))
    var newPassphraseFd: Int32?

    @Option(
        help: ArgumentHelp("Argon2id cost for the new passphrase (default: keep the current one).", valueName: "cost"))
    var kdf: KDFChoice?

    func run() throws {
        let vault: any KeyedVaultStore
        if recoveryKey {
            let text = try options.readPassphrase(prompt: "Recovery key for ")
            vault = try options.location().open(
                recoveryKey: try RecoveryKeyText.parse(text), environment: options.environment, logger: options.logger)
        } else {
            vault = try options.openVault(with: try options.readPassphrase(prompt: "Current passphrase for "))
        }
        let newSource = PassphraseSource.resolve(
            descriptor: newPassphraseFd, environment: options.environment, fileVariable: "UPVAULT_NEW_PASSPHRASE_FILE")
        let passphrase = try newSource.readNew(prompt: "New passphrase: ", confirmation: "Repeat the new passphrase: ")
        try vault.changePassphrase(to: passphrase, kdf: kdf?.parameters)
        if !options.json { Terminal.error("passphrase changed") }
    }
}

struct Rekey: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rekey",
        abstract: "Draw a new master key and re-encrypt every entry (after a suspected compromise).",
        discussion:
            "The passphrase stays the same. An existing recovery key stops working; --recovery-key makes a new one.")

    @OptionGroup var options: GlobalOptions

    @Flag(help: "Make a new recovery key, shown once.")
    var recoveryKey = false

    func run() throws {
        let passphrase = try options.readPassphrase()
        let vault = try options.openVault(with: passphrase)
        let recovery = try vault.rekey(passphrase: passphrase, kdf: nil, withRecoveryKey: recoveryKey)
        var text: String?
        if let recovery { text = RecoveryKeyText.format(recovery) }
        if options.json {
            try JSONOutput.print(["generation": String(try vault.statistics().generation), "recovery_key": text ?? ""])
            return
        }
        Terminal.error("re-keyed: every entry is now encrypted under a new master key")
        if let text { Terminal.out("New recovery key (shown once; store it offline):\n\(text)\n") }
    }
}
