import ArgumentParser
import UPVault
import UPVaultOAuth

struct Login: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "login",
        abstract: "Authorize an app for a user: open the printed URL, then paste the URL the browser was sent to.",
        discussion: """
            The authorization URL carries a fresh random state (and a PKCE challenge where the provider \
            supports it). Paste the whole redirect URL on stdin; with --listen, upvault receives it on a \
            loopback listener at the app's http://127.0.0.1 redirect URI instead.
            """)

    @OptionGroup var options: GlobalOptions
    @Option(help: ArgumentHelp("The app (default: $UPVAULT_APP, else the only app).", valueName: "name")) var app:
        String?
    @Option(help: ArgumentHelp("A label for the user (default: default).", valueName: "label")) var user = "default"
    @Flag(
        help: "Receive the redirect on a loopback listener (the app's redirect URI must be http://127.0.0.1:PORT/...).")
    var listen = false
    @Option(help: "With --listen: give up after this long (default 5m).") var timeout = DurationArgument(
        argument: "5m")!

    func run() async throws {
        try EntryName.validate(EntryKey(.grant, "x/\(user)"))
        let vault = try options.openStore()
        let appName = try GrantSelector(app: app, environment: options.environment).appName(in: vault)
        let grant = try await withOAuthClient(vault, logger: options.logger) { client in
            if listen {
                return try await client.login(app: appName, user: user, listeningFor: timeout.duration) { request, at in
                    Terminal.message(
                        "Open this URL in a browser and grant access:\n\n  \(request.url)\n\nWaiting for the redirect on \(at) ...\n"
                    )
                }
            }
            let request = try client.authorize(app: appName)
            Terminal.message("Open this URL in a browser and grant access:\n\n  \(request.url)\n\n")
            guard let redirect = Terminal.readLine(prompt: "Paste the full URL you were redirected to: ") else {
                throw CLIError(description: "no redirect URL on stdin", category: .usage)
            }
            return try await client.completeAuthorization(request, redirectURL: redirect, user: user)
        }
        if options.json {
            try JSONOutput.print(GrantSummary(grant))
        } else {
            Terminal.error(
                "logged in: grant \(grant.entryName), expires \(grant.expiresAt.map(TimeText.iso8601) ?? "unknown")")
        }
    }
}
