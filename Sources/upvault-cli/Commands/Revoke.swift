import ArgumentParser
import UPVault
import UPVaultOAuth

struct Revoke: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "revoke",
        abstract: "Revoke a grant's tokens at the provider (RFC 7009) and mark it revoked in the vault.",
        discussion: """
            The refresh token is revoked first, then the access token. The grant is kept, marked revoked \\
            with a receipt (when, which endpoint, the provider's status); --purge deletes it once revoked. \\
            A revocation cut off in flight shows in 'upvault audit' and is sent again by the next revoke. \
            --all revokes every grant of --app (the incident): bounded concurrency, paced with --rate, \
            retried like refresh, each grant's receipt durable; an interrupted run is continued by \
            --resume (the grants in flight first, none revoked twice). Exit 0 when every grant was \
            revoked, 4 when some failed.
            """)

    @OptionGroup var options: GlobalOptions
    @OptionGroup var selection: GrantOptions
    @Flag(help: "Delete the grant from the vault once the provider has revoked it.") var purge = false
    @Flag(help: "Every grant of --app.") var all = false
    @Option(help: "With --all: only grants issued before this date.") var issuedBefore: DateArgument?
    @Flag(help: "Continue an interrupted 'revoke --all' with its own selection.") var resume = false
    @Option(help: "With --all: grants in progress at once.") var concurrency = 8
    @Option(help: "With --all: at most this many requests per second (25/s; default: the app's limit).")
    var rate: RateArgument?

    func validate() throws {
        if all || resume {
            guard selection.user == nil else { throw ValidationError("--all and --resume take no --user") }
            guard !purge else {
                throw ValidationError("--purge revokes one grant; delete the app's grants with app rm")
            }
        } else if issuedBefore != nil || rate != nil {
            throw ValidationError("--issued-before and --rate go with --all")
        }
    }

    func run() async throws {
        if all || resume { return try await runAll() }
        let vault = try options.openStore()
        let (app, user) = try selection.selector(options.environment).grant(in: vault)
        let grant = try await withOAuthClient(vault, logger: options.logger) { client in
            try await client.revoke(app: app, user: user, purge: purge)
        }
        if options.json {
            if let grant { try JSONOutput.print(GrantSummary(grant)) } else { try JSONOutput.print(["purged": true]) }
        } else {
            Terminal.error("revoked grant \(app)/\(user)" + (grant == nil ? " and deleted it" : ""))
        }
    }

    func runAll() async throws {
        let store = try options.openStore()
        // A resumed run takes its app from its journal.
        let app =
            resume
            ? selection.app ?? ""
            : try GrantSelector(app: selection.app, environment: options.environment).appName(in: store)
        let requested = BulkRevokeOptions(
            app: app, issuedBefore: issuedBefore?.seconds, concurrency: concurrency, rate: rate?.rate.perSecond)
        let display = ProgressDisplay(enabled: !options.json && Terminal.standardErrorIsTerminal)
        let json = options.json
        let report = try await withOAuthClient(store, connectionsPerHost: concurrency, logger: options.logger) {
            client in
            try await client.bulkRevoke(
                requested, resume: resume, progress: { display.update($0) },
                issue: { item in
                    if json { try? JSONOutput.print(Refresh.FailureLine(item, needsReauthorization: false)) }
                })
        }
        display.finish()
        if json {
            try JSONOutput.print(report)
        } else {
            var lines = [
                "selected:              \(report.selected)", "revoked:               \(report.revoked)",
                "already revoked:       \(report.alreadyRevoked)",
                "failed after retries:  \(report.failed.count)",
                "taken up after an interruption: \(report.resumedInFlight)",
                TimeText.twoDecimals(report.seconds) + " s, \(Int(report.rate.rounded())) revocations/s",
            ]
            lines += Refresh.pacing(
                pacedAt: report.pacedAt, rateLimited: report.rateLimited, settledRate: report.settledRate)
            for item in report.failed.prefix(20) { lines.append("  \(item.grant): \(item.reason)") }
            if report.failed.count > 20 {
                lines.append("  ... and \(report.failed.count - 20) more (--json lists all)")
            }
            Terminal.error(lines.joined(separator: "\n"))
        }
        if !report.failed.isEmpty { throw ExitStatus.someFailed.exitCode }
    }
}
