import ArgumentParser
import UPVault
import UPVaultOAuth

struct Import: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Move credentials from another tool into the vault.", subcommands: [ImportKiefer.self, ImportGrants.self])
}

struct ImportKiefer: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kiefer",
        abstract: "Import a kiefer config.json (client credentials, and the tokens pasted into it).",
        discussion: """
            Stores the app and, when the config holds an access token, a grant whose expiry is unknown. \
            With --shred, the plaintext file is overwritten and removed once the vault write is durable.
            """)

    @OptionGroup var options: GlobalOptions
    @Argument(help: "The kiefer config file.") var config: String
    @Option(help: "The app's name in the vault.") var app = "up"
    @Option(help: "The user's label.") var user = "default"
    @Option(help: "jawbone (default) or generic.") var provider = "jawbone"
    @OptionGroup var endpoints: EndpointOptions
    @Flag(help: "Overwrite an existing grant for this app and user.") var replace = false
    @Flag(help: "Overwrite and delete the plaintext config after the import is durable.") var shred = false

    func run() throws {
        guard let preset = ProviderPreset.named(provider) else {
            throw CLIError(description: "unknown provider '\(provider)' (jawbone or generic)", exitStatus: .usage)
        }
        let (kiefer, mode) = try KieferConfig.read(path: config)
        let vault = try options.openStore()
        let result = try KieferMigration.importConfig(
            kiefer, into: vault, app: app, user: user, preset: preset, endpoints: try endpoints.resolve(preset: preset),
            replace: replace, now: Clock.now())
        if mode & 0o077 != 0 {
            Terminal.warning(
                "\(config) was readable by others (mode \(String(mode, radix: 8))): consider the client secret and tokens exposed and rotate them")
        }
        if shred { try KieferMigration.shred(path: config) }
        if options.json {
            try JSONOutput.print(ImportView(app: result.app.name, grant: result.grant?.entryName, shredded: shred))
        } else {
            let grant = result.grant.map { ", grant \($0.entryName) (expiry unknown)" } ?? ""
            Terminal.error("imported app \(result.app.name)\(grant)" + (shred ? "; \(config) overwritten and removed" : ""))
        }
    }

    struct ImportView: Encodable {
        var app: String
        var grant: String?
        var shredded: Bool
    }
}

struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write credentials out for another tool (secrets in clear: needs --reveal).", subcommands: [ExportKiefer.self])
}

struct ExportKiefer: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kiefer", abstract: "Print a kiefer config.json for an app (and a grant) on stdout.")

    @OptionGroup var options: GlobalOptions
    @OptionGroup var selection: GrantSelection
    @Flag(help: "Confirm that the client secret and tokens may be printed in clear.") var reveal = false
    @Flag(help: "Only the client credentials, no tokens.") var appOnly = false

    func run() throws {
        guard reveal else {
            throw CLIError(
                description: "this prints the client secret and tokens in clear; add --reveal to confirm", exitStatus: .usage)
        }
        let vault = try options.openStore()
        let appName = try selection.appName(in: vault, environment: options.environment)
        guard let app = try vault.entry(App.self, named: appName) else { throw VaultError.entryNotFound(EntryKey(.app, appName)) }
        var grant: Grant?
        if !appOnly {
            let user = try selection.userLabel(app: appName, in: vault, environment: options.environment)
            grant = try vault.entry(Grant.self, named: "\(appName)/\(user)")
        }
        Terminal.out(String(decoding: KieferMigration.exportConfig(app: app, grant: grant).encoded(), as: UTF8.self) + "\n")
    }
}
