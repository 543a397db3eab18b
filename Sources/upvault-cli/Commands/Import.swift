import ArgumentParser
import UPVault
import UPVaultOAuth

struct Import: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Move credentials from another tool into the vault.", subcommands: [Kiefer.self, Grants.self])

    struct Kiefer: ParsableCommand {
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
        @Option(help: "jawbone (default) or generic.") var provider = ProviderArgument.jawbone
        @OptionGroup var endpoints: EndpointOptions
        @Flag(help: "Overwrite an existing grant for this app and user.") var replace = false
        @Flag(help: "Overwrite and delete the plaintext config after the import is durable.") var shred = false

        func run() throws {
            let (kiefer, mode) = try KieferConfig.read(path: config)
            let result = try KieferMigration.importConfig(
                kiefer, into: try options.openStore(), app: app, user: user, preset: provider.preset,
                endpoints: try provider.preset.endpoints(endpoints.overrides), replace: replace, now: TimeText.now())
            if mode & 0o077 != 0 {
                Terminal.warning(
                    "\(config) was readable by others (mode \(String(mode, radix: 8))): "
                        + "consider the client secret and tokens exposed and rotate them")
            }
            if shred { try KieferMigration.shred(path: config) }
            if options.json {
                try JSONOutput.print(ImportView(app: result.app.name, grant: result.grant?.entryName, shredded: shred))
            } else {
                let grant = result.grant.map { ", grant \($0.entryName) (expiry unknown)" } ?? ""
                Terminal.error(
                    "imported app \(result.app.name)\(grant)" + (shred ? "; \(config) overwritten and removed" : ""))
            }
        }

        struct ImportView: Encodable {
            var app: String
            var grant: String?
            var shredded: Bool
        }
    }

    struct Grants: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "grants",
            abstract:
                "Import users' grants for an app from a JSON array (user, access_token, refresh_token, expires_in).",
            discussion: """
                For apps that kept their users' tokens elsewhere (a database export). Every item is checked \
                first (a bad file imports nothing), then written in durable batches of 5,000.
                """)

        @OptionGroup var options: GlobalOptions
        @Argument(help: "The app the grants belong to (it must exist).") var app: String
        @Argument(help: "The JSON file.") var file: String
        @Flag(help: "Overwrite grants that already exist.") var replace = false
        @Flag(help: "Overwrite and delete the file after the import is durable.") var shred = false

        func run() throws {
            let imported = try GrantImport.importFile(
                file, into: try options.openStore(), app: app, replace: replace, now: TimeText.now())
            if shred { try KieferMigration.shred(path: file) }
            if !options.json {
                Terminal.error(
                    "imported \(imported) grants for app \(app)" + (shred ? "; \(file) overwritten and removed" : ""))
            }
        }
    }
}

struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write credentials out for another tool (secrets in clear: needs --reveal).",
        subcommands: [Kiefer.self])

    struct Kiefer: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "kiefer", abstract: "Print a kiefer config.json for an app (and a grant) on stdout.")

        @OptionGroup var options: GlobalOptions
        @OptionGroup var selection: GrantOptions
        @Flag(help: "Confirm that the client secret and tokens may be printed in clear.") var reveal = false
        @Flag(help: "Only the client credentials, no tokens.") var appOnly = false

        func validate() throws {
            guard reveal else {
                throw ValidationError("this prints the client secret and tokens in clear; add --reveal to confirm")
            }
        }

        func run() throws {
            let vault = try options.openStore()
            let selector = selection.selector(options.environment)
            let appName = try selector.appName(in: vault)
            guard let app = try vault.entry(App.self, named: appName) else {
                throw VaultError.entryNotFound(EntryKey(.app, appName))
            }
            let grant =
                appOnly
                ? nil
                : try vault.entry(Grant.self, named: "\(appName)/\(try selector.userLabel(app: appName, in: vault))")
            Terminal.out(
                String(decoding: KieferMigration.exportConfig(app: app, grant: grant).encoded(), as: UTF8.self) + "\n")
        }
    }
}
