import ArgumentParser
import UPVault
import UPVaultOAuth

struct AppCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "app",
        abstract: "Register OAuth client apps (client id, secret, endpoints).",
        subcommands: [Add.self, List.self, Show.self, Remove.self, RotateSecret.self])

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add an app. The client secret comes from stdin, or a no-echo prompt on a terminal.")

        @OptionGroup var options: GlobalOptions
        @Argument(help: "A name for the app in the vault.") var name: String
        @Option(help: "jawbone (the real endpoints) or generic (give the endpoints).") var provider = "jawbone"
        @Option(help: "The client id the provider issued.") var clientId: String
        @Option(help: "The registered redirect URI (HTTPS, or http on a loopback address).") var redirectUri: String
        @Option(help: "Space-separated scopes (default: the provider's default).") var scope: String?
        @OptionGroup var endpoints: EndpointOptions
        @Flag(inversion: .prefixedNo, help: "Send PKCE (default: as the provider preset says).") var pkce: Bool?
        @Flag(help: "Replace an existing app of that name.") var replace = false

        func run() throws {
            guard let preset = ProviderPreset.named(provider) else {
                throw CLIError(description: "unknown provider '\(provider)' (jawbone or generic)", exitStatus: .usage)
            }
            try EntryName.validate(EntryKey(.app, name))
            let vault = try options.openStore()
            if !replace, try vault.contains(EntryKey(.app, name)) {
                throw CLIError(description: "app \(name) already exists (use --replace to overwrite it)", exitStatus: .usage)
            }
            var app = App(
                name: name, provider: preset.name, clientID: clientId, clientSecrets: [], redirectURI: redirectUri,
                scopes: scope.map { $0.split(separator: " ").map(String.init) } ?? preset.defaultScopes,
                endpoints: try endpoints.resolve(preset: preset), clientAuthentication: endpoints.clientAuth?.value ?? preset.clientAuthentication,
                supportsPKCE: pkce ?? preset.supportsPKCE, rotatesRefreshTokens: preset.rotatesRefreshTokens)
            try EndpointPolicy.check(app)
            let secret = try SecretInput.read(name: "\(name) client secret", raw: false)
            guard let text = secret.utf8String(), !text.isEmpty, !text.contains("\n") else {
                throw CLIError(description: "the client secret must be one non-empty line of text", exitStatus: .usage)
            }
            app.clientSecrets = [App.ClientSecret(value: text, addedAt: Clock.now())]
            try vault.put(app)
            if !options.json { Terminal.error("stored app '\(name)'") }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List apps.")
        @OptionGroup var options: GlobalOptions

        func run() throws {
            let vault = try options.openStore()
            let apps = try vault.entries(App.self)
            if options.json {
                try JSONOutput.print(apps.map { ["name": $0.name, "provider": $0.provider, "client_id": $0.clientID] })
                return
            }
            let rows = apps.map { [$0.name, $0.provider, $0.clientID] }
            Terminal.out(Table.render(header: ["APP", "PROVIDER", "CLIENT ID"], rows: rows))
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show an app; secrets by fingerprint and state, never their values.")
        @OptionGroup var options: GlobalOptions
        @Argument var name: String

        func run() throws {
            let vault = try options.openStore()
            guard let app = try vault.entry(App.self, named: name) else { throw VaultError.entryNotFound(EntryKey(.app, name)) }
            let now = Clock.now()
            let secrets = app.clientSecrets.map { secret in
                SecretView(
                    fingerprint: secret.fingerprint(clientID: app.clientID), state: SecretView.state(of: secret, in: app, now: now),
                    addedAt: Clock.iso8601(secret.addedAt), validUntil: secret.validUntil.map(Clock.iso8601))
            }
            let grants = try vault.names(of: .grant).filter { $0.hasPrefix(app.name + "/") }.count
            if options.json {
                try JSONOutput.print(AppView(app: app, secrets: secrets, grants: grants))
                return
            }
            var lines = [
                "app:           \(app.name)", "provider:      \(app.provider)", "client id:     \(app.clientID)",
                "redirect uri:  \(app.redirectURI)", "scopes:        \(app.scopes.joined(separator: " "))",
                "authorize:     \(app.endpoints.authorize)", "token:         \(app.endpoints.token)",
                "api base:      \(app.endpoints.apiBase ?? "-")", "refresh token: \(app.endpoints.refreshTokenRecovery ?? "-")",
                "client auth:   \(app.clientAuthentication.rawValue)", "pkce:          \(app.supportsPKCE ? "yes" : "no")",
                "grants:        \(grants)", "client secrets:",
            ]
            for secret in secrets {
                lines.append("  \(secret.fingerprint)  \(secret.state)  added \(secret.addedAt)" + (secret.validUntil.map { "  valid until \($0)" } ?? ""))
            }
            Terminal.out(lines.joined(separator: "\n") + "\n")
        }
    }

    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "rm", abstract: "Delete an app (and, with --grants, its grants).")
        @OptionGroup var options: GlobalOptions
        @Argument var name: String
        @Flag(help: "Also delete every grant of the app.") var grants = false

        func run() throws {
            let vault = try options.openStore()
            guard try vault.contains(EntryKey(.app, name)) else { throw VaultError.entryNotFound(EntryKey(.app, name)) }
            let owned = try vault.names(of: .grant).filter { $0.hasPrefix(name + "/") }
            if !owned.isEmpty && !grants {
                throw CLIError(description: "app \(name) has \(owned.count) grant(s); use --grants to delete them too", exitStatus: .usage)
            }
            try vault.write { transaction in
                transaction.remove(EntryKey(.app, name))
                for grant in owned { transaction.remove(EntryKey(.grant, grant)) }
            }
            if !options.json { Terminal.error("deleted app '\(name)'" + (owned.isEmpty ? "" : " and \(owned.count) grant(s)")) }
        }
    }
}

/// Endpoint overrides: required for `generic`, optional for presets (the sandbox and tests use them).
struct EndpointOptions: ParsableArguments {
    @Option(help: "Authorization endpoint URL.") var authorizeUrl: String?
    @Option(help: "Token endpoint URL.") var tokenUrl: String?
    @Option(help: "API base URL.") var apiBase: String?
    @Option(help: "Refresh-token recovery endpoint URL (Jawbone).") var refreshTokenUrl: String?
    @Option(help: "Provider base URL: the preset's paths on another host (for example the sandbox).") var providerUrl: String?
    @Option(help: "client_secret_post or client_secret_basic.") var clientAuth: ClientAuthArgument?

    func resolve(preset: ProviderPreset) throws -> App.Endpoints {
        var endpoints = preset.endpoints
        if let providerUrl, let base = endpoints {
            endpoints = base.rebased(onto: providerUrl)
        }
        guard let authorize = authorizeUrl ?? endpoints?.authorize, let token = tokenUrl ?? endpoints?.token else {
            throw CLIError(description: "the \(preset.name) provider needs --authorize-url and --token-url", exitStatus: .usage)
        }
        return App.Endpoints(
            authorize: authorize, token: token, apiBase: apiBase ?? endpoints?.apiBase,
            refreshTokenRecovery: refreshTokenUrl ?? endpoints?.refreshTokenRecovery)
    }
}

struct ClientAuthArgument: ExpressibleByArgument {
    var value: App.ClientAuthentication
    init?(argument: String) {
        guard let value = App.ClientAuthentication(rawValue: argument) else { return nil }
        self.value = value
    }
}

extension App.Endpoints {
    /// The same paths on another scheme and host: `https://jawbone.com/auth/...` becomes `BASE/auth/...`.
    func rebased(onto base: String) -> App.Endpoints {
        let root = base.hasSuffix("/") ? String(base.dropLast()) : base
        func move(_ url: String) -> String {
            guard let schemeEnd = url.firstRange(of: "://") else { return url }
            let rest = url[schemeEnd.upperBound...]
            let path = rest.firstIndex(of: "/").map { rest[$0...] } ?? ""
            return root + path
        }
        return App.Endpoints(
            authorize: move(authorize), token: move(token), apiBase: apiBase.map(move),
            refreshTokenRecovery: refreshTokenRecovery.map(move))
    }
}

struct SecretView: Encodable {
    var fingerprint: String
    var state: String
    var addedAt: String
    var validUntil: String?

    static func state(of secret: App.ClientSecret, in app: App, now: Int64) -> String {
        if secret == app.currentSecret { return "current" }
        if let until = secret.validUntil, until <= now { return "expired" }
        return "previous"
    }

    enum CodingKeys: String, CodingKey {
        case fingerprint, state
        case addedAt = "added_at"
        case validUntil = "valid_until"
    }
}

struct AppView: Encodable {
    var app: App
    var secrets: [SecretView]
    var grants: Int

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: Keys.self)
        try container.encode(app.name, forKey: .name)
        try container.encode(app.provider, forKey: .provider)
        try container.encode(app.clientID, forKey: .clientID)
        try container.encode(app.redirectURI, forKey: .redirectURI)
        try container.encode(app.scopes, forKey: .scopes)
        try container.encode(app.endpoints, forKey: .endpoints)
        try container.encode(app.clientAuthentication, forKey: .clientAuthentication)
        try container.encode(app.supportsPKCE, forKey: .supportsPKCE)
        try container.encode(secrets, forKey: .clientSecrets)
        try container.encode(grants, forKey: .grants)
    }

    enum Keys: String, CodingKey {
        case name, provider, scopes, endpoints, grants
        case clientID = "client_id"
        case redirectURI = "redirect_uri"
        case clientAuthentication = "client_authentication"
        case supportsPKCE = "supports_pkce"
        case clientSecrets = "client_secrets"
    }
}

/// Plain aligned columns.
enum Table {
    static func render(header: [String], rows: [[String]]) -> String {
        let all = [header] + rows
        let widths = header.indices.map { column in all.map { $0[column].count }.max() ?? 0 }
        return all.map { row in
            row.enumerated().map { index, cell in
                index == row.count - 1 ? cell : cell + String(repeating: " ", count: widths[index] - cell.count)
            }.joined(separator: "  ")
        }.joined(separator: "\n") + "\n"
    }
}
