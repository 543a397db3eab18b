import ArgumentParser
import UPVault
import UPVaultPostgres

struct Migrate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Copy the vault between a file and PostgreSQL, either way (the source is left as it is).",
        discussion: """
            FROM and TO are each a vault file or a postgres:// URL. The copy keeps the vault's key slots, \
            so the same passphrase (from the usual source) and recovery key open it; TO must hold no vault. \
            Every entry of the copy is read back and compared with the source's; exit 65 if any differs.
            """)

    @OptionGroup var options: GlobalOptions

    @Argument(help: ArgumentHelp("The vault to copy.", valueName: "from"))
    var from: String

    @Argument(help: ArgumentHelp("Where the copy goes.", valueName: "to"))
    var to: String

    func validate() throws {
        guard from != to else { throw ValidationError("FROM and TO are the same vault") }
    }

    func run() throws {
        let environment = options.environment
        let source = try StoreLocation(from, environment: environment)
        let destination = try StoreLocation(to, environment: environment)
        let store = try source.open(environment: environment, logger: options.logger) {
            try options.passphraseSource.read(prompt: "Passphrase for \(source): ")
        }
        let report = try VaultMigration.migrate(
            store, to: destination, environment: environment, logger: options.logger)
        if options.json {
            try JSONOutput.print(report)
        } else {
            Terminal.out(
                "copied \(report.secrets) secrets, \(report.apps) apps, \(report.grants) grants and \(report.journals) "
                    + "run journals from \(report.from) to \(report.to)\(report.verified ? "; every entry verified" : "")\n"
            )
        }
        guard report.verified else {
            throw CLIError(
                description: "the copy at \(report.to) does not match the source; do not use it", category: .integrity)
        }
    }
}
