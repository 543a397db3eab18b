import ArgumentParser
import FoundationEssentials
import UPVault
import UPVaultOAuth

struct Login: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Authorize an app for a user: open the printed URL, then paste the URL the browser was sent to.",
        discussion: """
            The authorization URL carries a fresh random state (and a PKCE challenge where the provider \
            supports it). Paste the whole redirect URL on stdin; with --listen, upvault receives it on a \
            loopback listener at the app's http://127.0.0.1 redirect URI instead.
            """)

    @OptionGroup var options: GlobalOptions
    @Option(help: ArgumentHelp("The app (default: $UPVAULT_APP, else the only app).", valueName: "name")) var app: String?
    @Option(help: ArgumentHelp("A label for the user (default: default).", valueName: "label")) var user = "default"
    @Flag(help: "Receive the redirect on a loopback listener (the app's redirect URI must be http://127.0.0.1:PORT/...).")
    var listen = false
    @Option(help: "With --listen: give up after this long (default 5m).") var timeout = DurationArgument(argument: "5m")!

    func run() async throws {
        try EntryName.validate(EntryKey(.grant, "x/\(user)"))
        let vault = try options.openStore()
        let appName = try GrantSelection.appName(explicit: app, in: vault, environment: options.environment)
        let grant = try await withOAuthClient(vault) { client in
            if listen {
                let listener = try await LoopbackListener.start(redirectURI: try client.app(named: appName).redirectURI)
                do {
                    let request = try client.authorize(app: appName, redirectURI: listener.redirectURI)
                    Terminal.message("Open this URL in a browser and grant access:\n\n  \(request.url)\n\nWaiting for the redirect on \(listener.redirectURI) ...\n")
                    let grant = try await client.completeAuthorization(request, listener: listener, user: user, timeout: timeout.duration)
                    await listener.close()
                    return grant
                } catch {
                    await listener.close()
                    throw error
                }
            }
            let request = try client.authorize(app: appName)
            Terminal.message("Open this URL in a browser and grant access:\n\n  \(request.url)\n\n")
            guard let redirect = LineInput.readLine(prompt: "Paste the full URL you were redirected to: ") else {
                throw CLIError(description: "no redirect URL on stdin", exitStatus: .usage)
            }
            return try await client.completeAuthorization(request, redirectURL: redirect, user: user)
        }
        if options.json {
            try JSONOutput.print(GrantView(grant))
        } else {
            Terminal.error("logged in: grant \(grant.entryName), expires \(grant.expiresAt.map(Clock.iso8601) ?? "unknown")")
        }
    }
}

struct Token: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print a valid access token, refreshing it first when it expires within --min-valid.")

    @OptionGroup var options: GlobalOptions
    @OptionGroup var selection: GrantSelection
    @Option(help: "Refresh first when the token expires within this long (300, 90s, 5m, 8h, 14d).")
    var minValid = DurationArgument(argument: "5m")!
    @Flag(help: "Refresh now, whatever the expiry (an imported token's expiry is unknown until its first refresh).")
    var refresh = false

    func run() async throws {
        let vault = try options.openStore()
        let token: String
        if let agent = vault as? AgentClient {
            // The agent chooses the defaults and refreshes when needed: one round trip, no HTTP client here.
            let named = selection.named(environment: options.environment)
            token = try agent.accessToken(app: named.app, user: named.user, minimumValidity: minValid.duration, forceRefresh: refresh)
        } else {
            let app = try selection.appName(in: vault, environment: options.environment)
            let user = try selection.userLabel(app: app, in: vault, environment: options.environment)
            token = try await withOAuthClient(vault) { client in
                if refresh { return try await client.refresh(app: app, user: user).accessToken }
                return try await client.accessToken(app: app, user: user, minimumValidity: minValid.duration)
            }
        }
        if options.json {
            try JSONOutput.print(["access_token": token])
        } else {
            Terminal.out(token + "\n")
        }
    }
}

struct Grants: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List grants: app, user, status, issued, expires, last refresh. Never prints tokens.")

    @OptionGroup var options: GlobalOptions
    @Option(help: "Only this app's grants.") var app: String?

    func run() throws {
        let vault = try options.openStore()
        let grants = try vault.entries(Grant.self).filter { app == nil || $0.app == app }
        if options.json {
            try JSONOutput.print(grants.map(GrantView.init))
            return
        }
        let rows = grants.map { grant in
            [
                grant.app, grant.user, grant.status.rawValue.replacing("_", with: " "), Clock.iso8601(grant.issuedAt),
                grant.expiresAt.map(Clock.iso8601) ?? "unknown", grant.lastRefreshAt.map(Clock.iso8601) ?? "-",
            ]
        }
        Terminal.out(Table.render(header: ["APP", "USER", "STATUS", "ISSUED", "EXPIRES", "LAST REFRESH"], rows: rows))
    }
}

/// A grant without its tokens.
struct GrantView: Encodable {
    var app: String
    var user: String
    var status: String
    var statusReason: String?
    var issuedAt: String
    var expiresAt: String?
    var lastRefreshAt: String?
    var hasRefreshToken: Bool
    var secretFingerprint: String?

    init(_ grant: Grant) {
        app = grant.app
        user = grant.user
        status = grant.status.rawValue
        statusReason = grant.statusReason
        issuedAt = Clock.iso8601(grant.issuedAt)
        expiresAt = grant.expiresAt.map(Clock.iso8601)
        lastRefreshAt = grant.lastRefreshAt.map(Clock.iso8601)
        hasRefreshToken = grant.refreshToken != nil
        secretFingerprint = grant.secretFingerprint
    }

    enum CodingKeys: String, CodingKey {
        case app, user, status
        case statusReason = "status_reason"
        case issuedAt = "issued_at"
        case expiresAt = "expires_at"
        case lastRefreshAt = "last_refresh_at"
        case hasRefreshToken = "has_refresh_token"
        case secretFingerprint = "secret_fingerprint"
    }
}

struct RecoverRefreshToken: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "recover-refresh-token",
        abstract: "Fetch a grant's refresh token from Jawbone's users/@me/refreshToken (needs a valid access token).")

    @OptionGroup var options: GlobalOptions
    @OptionGroup var selection: GrantSelection

    func run() async throws {
        let vault = try options.openStore()
        let app = try selection.appName(in: vault, environment: options.environment)
        let user = try selection.userLabel(app: app, in: vault, environment: options.environment)
        try await withOAuthClient(vault) { client in _ = try await client.recoverRefreshToken(app: app, user: user) }
        if !options.json { Terminal.error("stored the refresh token of grant \(app)/\(user)") }
    }
}

struct API: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "api",
        abstract: "Call the app's API as the user (Bearer token; refreshed once on 401) and print the JSON body.")

    @OptionGroup var options: GlobalOptions
    @OptionGroup var selection: GrantSelection
    @Argument(help: "GET, POST, PUT, DELETE or PATCH.") var method: String
    @Argument(help: "A path under the app's API base, such as users/@me/moves.") var path: String
    @Option(name: .customShort("f"), help: ArgumentHelp("A field, key=value (query for GET, form body otherwise).", valueName: "key=value"))
    var fields: [String] = []

    func run() async throws {
        let pairs = try fields.map { field -> (String, String) in
            guard let equals = field.firstIndex(of: "="), equals != field.startIndex else {
                throw CLIError(description: "-f takes key=value, got '\(field)'", exitStatus: .usage)
            }
            return (String(field[..<equals]), String(field[field.index(after: equals)...]))
        }
        let vault = try options.openStore()
        let app = try selection.appName(in: vault, environment: options.environment)
        let user = try selection.userLabel(app: app, in: vault, environment: options.environment)
        do {
            let response = try await withOAuthClient(vault) { client in
                try await client.request(app: app, user: user, method: method, path: path, fields: pairs)
            }
            Terminal.out(String(decoding: response.body, as: UTF8.self) + "\n")
        } catch OAuthError.apiStatus(let status, let body) {
            Terminal.out(String(decoding: body, as: UTF8.self) + "\n")
            throw OAuthError.apiStatus(httpStatus: status, body: [])
        }
    }
}
