import ArgumentParser
import UPVault
import UPVaultOAuth
import UPVaultPostgres

struct Refresh: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "refresh",
        abstract: "Refresh many grants at once: after a secret rotation, before a provider's token cut-off.",
        discussion: """
            Bounded concurrency over pooled connections, retries with back-off for 5xx, time-outs and \
            dropped connections, a run-wide pause on 429. Every new token is durable before it counts; \
            results are committed in batches. If the run is interrupted, the next run takes up the \
            grants that were in flight first; --resume continues it. Exit 0 when every grant was \
            refreshed, 3 when some need re-authorization, 4 when some failed.
            """)

    @OptionGroup var options: GlobalOptions
    @Option(help: "Only this app's grants.") var app: String?
    @Option(help: "Only this user's grant (repeatable).") var user: [String] = []
    @Flag(help: "Every grant (of --app, or of every app).") var all = false
    @Option(help: "Only grants issued before this date.") var issuedBefore: DateArgument?
    @Option(help: "Only grants whose token expires within this long (or whose expiry is unknown).")
    var expiringWithin: DurationArgument?
    @Option(help: "Only grants last refreshed before this date.") var refreshedBefore: DateArgument?
    @Option(help: "Requests in flight at once.") var concurrency = 32
    @Option(help: "At most this many requests per second to each provider (25/s, 1500/m; default: the app's limit).")
    var rate: RateArgument?
    @Flag(help: "Show what would be refreshed, and do nothing.") var dryRun = false
    @Flag(help: "Continue an interrupted run with its own selection.") var resume = false
    @Flag(help: "Show the campaign of a database vault: done, left, rate, time left (needs no selection).")
    var status = false
    @Option(
        help: ArgumentHelp(
            "Database vaults: seconds a worker's claims last without renewal (taken over after).", valueName: "seconds")
    )
    var lease = 30
    @Option(help: "Database vaults: this worker's name in the campaign (default: a random one).") var worker: String?

    func validate() throws {
        guard status || resume || all || !user.isEmpty else {
            throw ValidationError("say which grants: --user U, --all, or --resume (or --status)")
        }
        guard (1...3600).contains(lease) else { throw ValidationError("--lease is 1 to 3600 seconds") }
    }

    func run() async throws {
        if status {
            try showCampaign()
            return
        }
        let selection = BulkRefreshOptions(
            app: app, users: user.isEmpty ? nil : user, issuedBefore: issuedBefore?.seconds,
            expiringWithin: expiringWithin?.seconds, refreshedBefore: refreshedBefore?.seconds,
            concurrency: concurrency,
            rate: rate?.rate.perSecond)
        let store = try options.openStore()
        if OAuthClient.runsCampaigns(store) && !dryRun {
            try await runCampaign(store, selection)
            return
        }
        if store is AgentClient && !options.json { Terminal.error("refreshing in the agent ...") }
        let display = ProgressDisplay(
            enabled: !options.json && Terminal.standardErrorIsTerminal && !(store is AgentClient))
        let json = options.json
        let report = try await OAuthClient.bulkRefresh(
            in: store, selection, resume: resume, dryRun: dryRun, progress: { display.update($0) },
            issue: { item, reauthorization in
                if json { try? JSONOutput.print(FailureLine(item, needsReauthorization: reauthorization)) }
            })
        display.finish()
        try Self.print(report, json: options.json)
        if !report.failed.isEmpty { throw ExitStatus.someFailed.exitCode }
        if !report.needsReauthorization.isEmpty { throw ExitStatus.needsReauthorization.exitCode }
    }

    /// A database vault: this process works on the vault's campaign (joined, or started) with any other
    /// workers, and prints the campaign's counts at the end.
    func runCampaign(_ store: any VaultStore, _ selection: BulkRefreshOptions) async throws {
        let json = options.json
        if store is AgentClient && !json { Terminal.error("refreshing in the agent ...") }
        let display = ProgressDisplay(enabled: !json && Terminal.standardErrorIsTerminal && !(store is AgentClient))
        let status = try await OAuthClient.campaignRefresh(
            in: store, selection, resume: resume, worker: CampaignWorker(name: worker, lease: .seconds(lease)),
            logger: options.logger, progress: { display.update(BulkRefreshProgress($0)) },
            issue: { item, reauthorization in
                if json { try? JSONOutput.print(FailureLine(item, needsReauthorization: reauthorization)) }
            })
        display.finish()
        try Self.print(status, json: json)
        if status.failed > 0 { throw ExitStatus.someFailed.exitCode }
        if status.needsReauthorization > 0 { throw ExitStatus.needsReauthorization.exitCode }
    }

    func showCampaign() throws {
        guard let status = try OAuthClient.campaignStatus(of: try options.openStore()) else {
            throw CLIError(description: "this vault has had no refresh campaign", category: .failure)
        }
        try Self.print(status, json: options.json)
    }

    static func print(_ status: CampaignStatus, json: Bool) throws {
        if json {
            try JSONOutput.print(CampaignStatusView(status: status))
            return
        }
        let state =
            status.finishedAt.map { "finished at \($0) (unix time)" } ?? "in progress, \(status.workers) worker(s)"
        var lines = [
            "campaign:              \(status.id), started at \(status.startedAt) (unix time), \(state)",
            "selected:              \(status.total)",
            "done:                  \(status.done), left: \(status.left)",
            "refreshed:             \(status.refreshed)",
            "already fresh:         \(status.alreadyFresh)",
            "needs re-authorization: \(status.needsReauthorization)",
            "failed after retries:  \(status.failed)",
            "skipped (not active or removed): \(status.skipped)",
        ]
        if status.finishedAt == nil {
            let eta = status.etaSeconds.map { ", about \(TimeText.remaining($0)) left" } ?? ""
            lines.append("rate:                  \(Int(status.rate.rounded())) grants/s over the last minute\(eta)")
        }
        Terminal.error(lines.joined(separator: "\n"))
    }

    /// The campaign's counts, with `done` and `left` as the text report shows them.
    struct CampaignStatusView: Encodable {
        var status: CampaignStatus

        enum Derived: String, CodingKey { case done, left }

        func encode(to encoder: any Encoder) throws {
            try status.encode(to: encoder)
            var derived = encoder.container(keyedBy: Derived.self)
            try derived.encode(status.done, forKey: .done)
            try derived.encode(status.left, forKey: .left)
        }
    }

    struct FailureLine: Encodable {
        var grant: String
        var outcome: String
        var reason: String

        init(_ item: BulkRefreshIssue, needsReauthorization: Bool) {
            grant = item.grant
            outcome = needsReauthorization ? "needs_reauthorization" : "failed"
            reason = item.reason
        }
    }

    /// The report's pacing lines: the rate asked for, and what the provider's 429s brought it down to.
    static func pacing(pacedAt: Double?, rateLimited: Int, settledRate: Double?) -> [String] {
        var lines: [String] = []
        if let pacedAt, let rate = try? RequestRate(perSecond: pacedAt) {
            lines.append("paced at:              \(rate)")
        }
        if rateLimited > 0 {
            let settled = settledRate.flatMap { try? RequestRate(perSecond: $0) }.map { ", settled at \($0)" } ?? ""
            lines.append("rate limited (429):    \(rateLimited) time(s)\(settled)")
        }
        return lines
    }

    static func print(_ report: BulkRefreshReport, json: Bool) throws {
        if json {
            try JSONOutput.print(report)
            return
        }
        guard !report.dryRun else {
            Terminal.error("dry run: \(report.selected) grants selected, nothing sent")
            return
        }
        var lines =
            [
                "selected:              \(report.selected)",
                "refreshed:             \(report.refreshed)",
                "already fresh:         \(report.alreadyFresh)",
                "needs re-authorization: \(report.needsReauthorization.count)",
                "failed after retries:  \(report.failed.count)",
                "taken up after an interruption: \(report.resumedInFlight)",
                TimeText.twoDecimals(report.seconds) + " s, \(Int(report.rate.rounded())) refreshes/s",
            ] + Self.pacing(pacedAt: report.pacedAt, rateLimited: report.rateLimited, settledRate: report.settledRate)
        for item in (report.needsReauthorization + report.failed).prefix(20) {
            lines.append("  \(item.grant): \(item.reason)")
        }
        let more = report.needsReauthorization.count + report.failed.count - 20
        if more > 0 { lines.append("  ... and \(more) more (--json lists all)") }
        Terminal.error(lines.joined(separator: "\n"))
    }
}
