import ArgumentParser
import UPVault
import UPVaultOAuth

struct Token: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "token",
        abstract: "Print a valid access token, refreshing it first when it expires within --min-valid.")

    @OptionGroup var options: GlobalOptions
    @OptionGroup var selection: GrantOptions
    @Option(help: "Refresh first when the token expires within this long (300, 90s, 5m, 8h, 14d).")
    var minValid = DurationArgument(argument: "5m")!
    @Flag(help: "Refresh now, whatever the expiry (an imported token's expiry is unknown until its first refresh).")
    var refresh = false

    func run() async throws {
        let token = try await OAuthClient.accessToken(
            from: try options.openStore(), selection: selection.selector(options.environment),
            minimumValidity: minValid.duration, forceRefresh: refresh, logger: options.logger)
        if options.json {
            try JSONOutput.print(["access_token": token])
        } else {
            Terminal.out(token + "\n")
        }
    }
}

struct Grants: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "grants",
        abstract: "List grants: app, user, status, issued, expires, last refresh. Never prints tokens.")

    @OptionGroup var options: GlobalOptions
    @Option(help: "Only this app's grants.") var app: String?

    func run() throws {
        let grants = try options.openStore().entries(Grant.self).filter { app == nil || $0.app == app }
        if options.json {
            try JSONOutput.print(grants.map(GrantSummary.init))
            return
        }
        let rows = grants.map { grant in
            [
                grant.app, grant.user, grant.status.rawValue.replacing("_", with: " "),
                TimeText.iso8601(grant.issuedAt),
                grant.expiresAt.map(TimeText.iso8601) ?? "unknown", grant.lastRefreshAt.map(TimeText.iso8601) ?? "-",
            ]
        }
        Terminal.out(Table.render(header: ["APP", "USER", "STATUS", "ISSUED", "EXPIRES", "LAST REFRESH"], rows: rows))
    }
}

struct RecoverRefreshToken: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "recover-refresh-token",
        abstract: "Fetch a grant's refresh token from Jawbone's users/@me/refreshToken (needs a valid access token).")

    @OptionGroup var options: GlobalOptions
    @OptionGroup var selection: GrantOptions

    func run() async throws {
        let vault = try options.openStore()
        let (app, user) = try selection.selector(options.environment).grant(in: vault)
        try await withOAuthClient(vault, logger: options.logger) { client in
            _ = try await client.recoverRefreshToken(app: app, user: user)
        }
        if !options.json { Terminal.error("stored the refresh token of grant \(app)/\(user)") }
    }
}

struct API: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "api",
        abstract: "Call the app's API as the user (Bearer token; refreshed once on 401) and print the JSON body.")

    @OptionGroup var options: GlobalOptions
    @OptionGroup var selection: GrantOptions
    @Argument(help: "GET, POST, PUT, DELETE or PATCH.") var method: HTTPMethodArgument
    @Argument(help: "A path under the app's API base, such as users/@me/moves.") var path: String
    @Option(
        name: .customShort("f"),
        help: ArgumentHelp("A field, key=value (query for GET, form body otherwise).", valueName: "key=value"))
    var fields: [String] = []

    func validate() throws {
        for field in fields where !field.contains("=") || field.hasPrefix("=") {
            throw ValidationError("-f takes key=value, got '\(field)'")
        }
    }

    func run() async throws {
        let pairs = fields.map { field in
            (String(field.prefix { $0 != "=" }), String(field.drop { $0 != "=" }.dropFirst()))
        }
        let vault = try options.openStore()
        let (app, user) = try selection.selector(options.environment).grant(in: vault)
        do {
            let response = try await withOAuthClient(vault, logger: options.logger) { client in
                try await client.request(app: app, user: user, method: method.rawValue, path: path, fields: pairs)
            }
            Terminal.out(String(decoding: response.body, as: UTF8.self) + "\n")
        } catch OAuthError.apiStatus(let status, let body) {
            Terminal.out(String(decoding: body, as: UTF8.self) + "\n")
            throw OAuthError.apiStatus(httpStatus: status, body: [])
        }
    }
}
