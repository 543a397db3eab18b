import ArgumentParser
import UPVault
import UPVaultOAuth

struct AppCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "app",
        abstract: "Register OAuth client apps (client id, secret, endpoints).",
        subcommands: [Add.self, Set.self, List.self, Show.self, Remove.self, RotateSecret.self])

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "add",
            abstract: "Add an app. The client secret comes from stdin, or a no-echo prompt on a terminal.")

        @OptionGroup var options: GlobalOptions
        @Argument(help: "A name for the app in the vault.") var name: String
        @Option(help: "jawbone (the real endpoints) or generic (default with --issuer).") var provider:
            ProviderArgument?
        @Option(help: "Discover the endpoints from this issuer's metadata (RFC 8414 / OpenID Connect).")
        var issuer: String?
        @Option(help: "The client id the provider issued.") var clientId: String
        @Flag(help: "A public client: no secret, PKCE on every login.") var `public` = false
        @Option(help: "The registered redirect URI (default http://127.0.0.1/callback, any port).")
        var redirectUri: String?
        @Option(help: "Space-separated scopes (default: the provider's default).") var scope: String?
        @OptionGroup var endpoints: EndpointOptions
        @Flag(inversion: .prefixedNo, help: "Send PKCE (default: as the provider or its metadata says).") var pkce:
            Bool?
        @Option(help: "The most requests per second bulk runs send this provider (25/s, 1500/m).")
        var rateLimit: RateArgument?
        @Flag(help: "Replace an existing app of that name.") var replace = false

        func validate() throws {
            if `public` && pkce == false { throw ValidationError("a public client always uses PKCE") }
            if `public` && endpoints.clientAuth != nil { throw ValidationError("a public client sends no secret") }
        }

        func run() async throws {
            let registration = AppRegistration(
                name: name, provider: (provider ?? (issuer == nil ? .jawbone : .generic)).preset, issuer: issuer,
                clientID: clientId, isPublic: `public`, redirectURI: redirectUri,
                scopes: scope.map { $0.split(separator: " ").map(String.init) }, overrides: endpoints.overrides,
                clientAuthentication: endpoints.clientAuth?.value, pkce: pkce, rateLimit: rateLimit?.rate.perSecond)
            let store = try options.openStore()
            try await withOAuthClient(store, logger: options.logger) { client in
                try await client.addApp(registration, replace: replace) {
                    try SecretInput.readLine(name: "\(name) client secret")
                }
            }
            if !options.json { Terminal.error("stored app '\(name)'") }
        }
    }

    struct Set: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "set", abstract: "Change an app's settings: its default rate limit for bulk runs.")
        @OptionGroup var options: GlobalOptions
        @Argument var name: String
        @Option(help: "The most requests per second bulk runs send this provider (25/s, 1500/m).")
        var rateLimit: RateArgument?
        @Flag(help: "Remove the app's rate limit.") var noRateLimit = false

        func validate() throws {
            guard (rateLimit == nil) != !noRateLimit else {
                throw ValidationError("give --rate-limit N/s or --no-rate-limit")
            }
        }

        func run() throws {
            try options.openStore().setRateLimit(app: name, perSecond: rateLimit?.rate.perSecond)
            if !options.json {
                Terminal.error("app '\(name)': " + (rateLimit.map { "rate limit \($0.rate)" } ?? "no rate limit"))
            }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "list", abstract: "List apps.")
        @OptionGroup var options: GlobalOptions

        func run() throws {
            let apps = try options.openStore().entries(App.self)
            if options.json {
                try JSONOutput.print(apps.map { ["name": $0.name, "provider": $0.provider, "client_id": $0.clientID] })
                return
            }
            Terminal.out(
                Table.render(
                    header: ["APP", "PROVIDER", "CLIENT ID"], rows: apps.map { [$0.name, $0.provider, $0.clientID] }))
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "show",
            abstract: "Show an app; secrets by fingerprint and state, never their values.")
        @OptionGroup var options: GlobalOptions
        @Argument var name: String

        func run() throws {
            let app = try options.openStore().appSummary(named: name, at: TimeText.now())
            if options.json {
                try JSONOutput.print(app)
                return
            }
            var lines = [
                "app:           \(app.name)", "provider:      \(app.provider)", "client id:     \(app.clientId)",
                "redirect uri:  \(app.redirectUri)", "scopes:        \(app.scopes.joined(separator: " "))",
                "issuer:        \(app.endpoints.issuer ?? "-")",
                "authorize:     \(app.endpoints.authorize ?? "-")", "token:         \(app.endpoints.token)",
                "revocation:    \(app.endpoints.revocation ?? "-")",
                "device auth:   \(app.endpoints.deviceAuthorization ?? "-")",
                "api base:      \(app.endpoints.apiBase ?? "-")",
                "refresh token: \(app.endpoints.refreshTokenRecovery ?? "-")",
                "client auth:   \(app.clientAuthentication.rawValue)",
                "pkce:          \(app.supportsPkce ? "yes" : "no")",
                "rate limit:    \(app.rateLimit.map { (try? RequestRate(perSecond: $0))?.description ?? "-" } ?? "-")",
                "grants:        \(app.grants)", "client secrets:",
            ]
            for secret in app.clientSecrets {
                let until = secret.validUntil.map { "  valid until \($0)" } ?? ""
                lines.append("  \(secret.fingerprint)  \(secret.state.rawValue)  added \(secret.addedAt)" + until)
            }
            Terminal.out(lines.joined(separator: "\n") + "\n")
        }
    }

    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "rm", abstract: "Delete an app (and, with --grants, its grants).")
        @OptionGroup var options: GlobalOptions
        @Argument var name: String
        @Flag(help: "Also delete every grant of the app.") var grants = false

        func run() throws {
            let removed = try options.openStore().removeApp(named: name, includingGrants: grants)
            if !options.json {
                Terminal.error("deleted app '\(name)'" + (removed == 0 ? "" : " and \(removed) grant(s)"))
            }
        }
    }

    struct RotateSecret: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "rotate-secret",
            abstract: "Make a new client secret current; the previous one is kept until the grace window ends.",
            discussion: """
                The new secret comes from stdin or a no-echo prompt. It is used for every token request at \
                once; the previous one is tried only when the provider answers the new one with \
                invalid_client, and is erased from the vault (with compaction) after its window.
                """)

        @OptionGroup var options: GlobalOptions
        @Argument var app: String
        @Option(help: "The previous secret stays valid until this date (2014-04-25, or ...T12:00:00Z).")
        var graceUntil: DateArgument?
        @Option(help: "The previous secret stays valid this long from now (default 14d).") var grace: DurationArgument?

        func validate() throws {
            guard graceUntil == nil || grace == nil else {
                throw ValidationError("give --grace-until or --grace, not both")
            }
        }

        func run() async throws {
            let until = graceUntil?.seconds ?? TimeText.now() + (grace?.seconds ?? 14 * 86_400)
            let store = try options.openStore()
            guard let text = try SecretInput.read(name: "\(app) new client secret", raw: false).utf8String() else {
                throw CLIError(description: "the client secret must be text", category: .usage)
            }
            let rotated = try await withOAuthClient(store, logger: options.logger) { client in
                try client.rotateSecret(app: app, newSecret: text, previousValidUntil: until)
            }
            if !options.json {
                let fingerprint = rotated.currentSecretFingerprint ?? "?"
                Terminal.error(
                    "app \(app): secret \(fingerprint) is current; the previous one is valid until \(TimeText.iso8601(until))"
                )
            }
        }
    }
}
