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
            loopback listener at the app's http://127.0.0.1 redirect URI instead. On a machine without a \
            browser, --device shows a code to enter on any other device (RFC 8628) and waits for it. \
            --client-credentials obtains the app's own token (no user; grant APP/@app).
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
    @Flag(help: "Device login: show a code to enter on another device, and wait for approval.") var device = false
    @Flag(help: "The app's own token with its client credentials (no user).") var clientCredentials = false

    func validate() throws {
        if [listen, device, clientCredentials].filter({ $0 }).count > 1 {
            throw ValidationError("choose one of --listen, --device and --client-credentials")
        }
        if clientCredentials && user != "default" {
            throw ValidationError("--client-credentials has no user: its grant is APP/\(Grant.appUser)")
        }
    }

    func run() async throws {
        try EntryName.validate(EntryKey(.grant, "x/\(user)"))
        let vault = try options.openStore()
        let appName = try GrantSelector(app: app, environment: options.environment).appName(in: vault)
        let grant = try await withOAuthClient(vault, logger: options.logger) { client in
            if clientCredentials { return try await client.loginClientCredentials(app: appName) }
            if device {
                let started = try await client.startDeviceLogin(app: appName)
                var text =
                    "On any device, open\n\n  \(started.verificationURI)\n\nand enter the code\n\n  \(started.userCode)\n\n"
                if let complete = started.verificationURIComplete { text += "(or open \(complete))\n\n" }
                Terminal.message(
                    text + "Waiting for approval (the code expires \(TimeText.iso8601(started.expiresAt))) ...\n")
                return try await client.completeDeviceLogin(started, user: user)
            }
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
