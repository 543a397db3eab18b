import ArgumentParser
import FoundationEssentials
import UPVault
import UPVaultOAuth

#if canImport(Glibc)
import Glibc
#endif

/// A date: `2014-04-25`, `2014-04-25T12:00:00Z`, or Unix seconds.
struct DateArgument: ExpressibleByArgument {
    var seconds: Int64

    init?(argument: String) {
        if let value = Int64(argument) {
            seconds = value
            return
        }
        let parts = argument.split(whereSeparator: { "-T:Z".contains($0) }).compactMap { Int32($0) }
        guard parts.count == 3 || parts.count == 6, parts[0] >= 1970 else { return nil }
        var fields = tm()
        fields.tm_year = parts[0] - 1900
        fields.tm_mon = parts[1] - 1
        fields.tm_mday = parts[2]
        if parts.count == 6 {
            fields.tm_hour = parts[3]
            fields.tm_min = parts[4]
            fields.tm_sec = parts[5]
        }
        guard (0...11).contains(fields.tm_mon), (1...31).contains(fields.tm_mday) else { return nil }
        seconds = Int64(timegm(&fields))
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
    @Option(help: "The previous secret stays valid until this date (2014-04-25, or ...T12:00:00Z).") var graceUntil: DateArgument?
    @Option(help: "The previous secret stays valid this long from now (default 14d).") var grace: DurationArgument?

    func run() async throws {
        guard graceUntil == nil || grace == nil else {
            throw CLIError(description: "give --grace-until or --grace, not both", exitStatus: .usage)
        }
        let until = graceUntil?.seconds ?? Clock.now() + (grace?.seconds ?? 14 * 86_400)
        let store = try options.openStore()
        let secret = try SecretInput.read(name: "\(app) new client secret", raw: false)
        guard let text = secret.utf8String() else { throw CLIError(description: "the client secret must be text", exitStatus: .usage) }
        let rotated = try await withOAuthClient(store) { client in
            try client.rotateSecret(app: app, newSecret: text, previousValidUntil: until)
        }
        if !options.json {
            let fingerprint = rotated.currentSecretFingerprint ?? "?"
            Terminal.error("app \(app): secret \(fingerprint) is current; the previous one is valid until \(Clock.iso8601(until))")
        }
    }
}

struct ImportGrants: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "grants",
        abstract: "Import users' grants for an app from a JSON array (user, access_token, refresh_token, expires_in).",
        discussion: "For apps that kept their users' tokens elsewhere (a database export): one durable batch per 5,000 grants.")

    @OptionGroup var options: GlobalOptions
    @Argument(help: "The app the grants belong to (it must exist).") var app: String
    @Argument(help: "The JSON file.") var file: String
    @Flag(help: "Overwrite grants that already exist.") var replace = false
    @Flag(help: "Overwrite and delete the file after the import is durable.") var shred = false

    struct Item: Decodable {
        var user: String
        var accessToken: String
        var refreshToken: String?
        var expiresIn: Int64?
        enum CodingKeys: String, CodingKey {
            case user
            case accessToken = "access_token"
            case refreshToken = "refresh_token"
            case expiresIn = "expires_in"
        }
    }

    func run() throws {
        let fd = open(file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else { throw CLIError(description: "cannot read \(file): \(String(cString: strerror(errno)))") }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = read(fd, &buffer, buffer.count)
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { break }
            bytes += buffer.prefix(count)
            guard bytes.count <= 1 << 30 else { close(fd); throw CLIError(description: "\(file) is larger than 1 GiB") }
        }
        close(fd)
        let items: [Item]
        do {
            items = try JSONDecoder().decode([Item].self, from: Data(bytes))
        } catch {
            throw CLIError(description: "\(file) is not a JSON array of {user, access_token, refresh_token, expires_in}")
        }
        _ = bytes.withUnsafeMutableBytes { $0.initializeMemory(as: UInt8.self, repeating: 0) }
        let store = try options.openStore()
        guard let entry = try store.entry(App.self, named: app) else { throw VaultError.entryNotFound(EntryKey(.app, app)) }
        let now = Clock.now()
        let existing = Set(try store.names(of: .grant))
        var imported = 0
        for chunk in stride(from: 0, to: items.count, by: 5000) {
            let slice = items[chunk..<min(items.count, chunk + 5000)]
            try store.write { batch in
                for item in slice {
                    let grant = Grant(
                        app: app, user: item.user, accessToken: item.accessToken, refreshToken: item.refreshToken,
                        issuedAt: now, expiresAt: item.expiresIn.map { now + $0 }, secretFingerprint: entry.currentSecretFingerprint)
                    if !replace && existing.contains(grant.entryName) {
                        throw CLIError(description: "grant \(grant.entryName) already exists (use --replace)", exitStatus: .usage)
                    }
                    try batch.put(grant)
                }
            }
            imported += slice.count
        }
        if shred { try KieferMigration.shred(path: file) }
        if !options.json { Terminal.error("imported \(imported) grants for app \(app)" + (shred ? "; \(file) overwritten and removed" : "")) }
    }
}

struct Refresh: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
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
    @Option(help: "Only grants whose token expires within this long (or whose expiry is unknown).") var expiringWithin: DurationArgument?
    @Option(help: "Only grants last refreshed before this date.") var refreshedBefore: DateArgument?
    @Option(help: "Requests in flight at once.") var concurrency = 32
    @Flag(help: "Show what would be refreshed, and do nothing.") var dryRun = false
    @Flag(help: "Continue an interrupted run with its own selection.") var resume = false

    struct AgentRequestBody: Codable {
        var options: BulkRefreshOptions
        var resume: Bool
        var dryRun: Bool
        enum CodingKeys: String, CodingKey {
            case options, resume
            case dryRun = "dry_run"
        }
    }

    func run() async throws {
        guard resume || all || !user.isEmpty else {
            throw CLIError(description: "say which grants: --user U, --all, or --resume", exitStatus: .usage)
        }
        let selection = BulkRefreshOptions(
            app: app, users: user.isEmpty ? nil : user, issuedBefore: issuedBefore?.seconds,
            expiringWithin: expiringWithin?.seconds, refreshedBefore: refreshedBefore?.seconds, concurrency: concurrency)
        let store = try options.openStore()
        let report: BulkRefreshReport
        if let agent = store as? AgentClient {
            if !options.json { Terminal.error("refreshing in the agent ...") }
            let body = String(decoding: try JSONEncoder().encode(AgentRequestBody(options: selection, resume: resume, dryRun: dryRun)), as: UTF8.self)
            report = try JSONDecoder().decode(BulkRefreshReport.self, from: Data(try agent.bulkRefresh(body).utf8))
            if options.json {
                for item in report.failed { try JSONOutput.print(FailureLine(item, needsReauthorization: false)) }
                for item in report.needsReauthorization { try JSONOutput.print(FailureLine(item, needsReauthorization: true)) }
            }
        } else {
            let display = ProgressDisplay(enabled: !options.json && isatty(2) == 1)
            let json = options.json
            report = try await withOAuthClient(store, connectionsPerHost: concurrency) { client in
                try client.pruneExpiredSecrets()
                return try await client.bulkRefresh(
                    selection, resume: resume, dryRun: dryRun,
                    progress: { display.update($0) },
                    issue: { item, reauthorization in
                        if json { try? JSONOutput.print(FailureLine(item, needsReauthorization: reauthorization)) }
                    })
            }
            display.finish()
        }
        try Self.print(report, json: options.json)
        if !report.failed.isEmpty { Glibc.exit(ExitStatus.someFailed.rawValue) }
        if !report.needsReauthorization.isEmpty { Glibc.exit(ExitStatus.needsReauthorization.rawValue) }
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

    static func print(_ report: BulkRefreshReport, json: Bool) throws {
        if json {
            try JSONOutput.print(report)
            return
        }
        var lines = [
            report.dryRun ? "dry run: \(report.selected) grants selected, nothing sent" : "selected:              \(report.selected)",
        ]
        if !report.dryRun {
            lines += [
                "refreshed:             \(report.refreshed)",
                "already fresh:         \(report.alreadyFresh)",
                "needs re-authorization: \(report.needsReauthorization.count)",
                "failed after retries:  \(report.failed.count)",
                "taken up after an interruption: \(report.resumedInFlight)",
                String(format2(report.seconds)) + " s, \(Int(report.rate.rounded())) refreshes/s",
            ]
            for item in (report.needsReauthorization + report.failed).prefix(20) {
                lines.append("  \(item.grant): \(item.reason)")
            }
            let more = report.needsReauthorization.count + report.failed.count - 20
            if more > 0 { lines.append("  ... and \(more) more (--json lists all)") }
        }
        Terminal.error(lines.joined(separator: "\n"))
    }
}

func format2(_ value: Double) -> String {
    let hundredths = Int((value * 100).rounded())
    let fraction = hundredths % 100
    return "\(hundredths / 100).\(fraction < 10 ? "0" : "")\(fraction)"
}

/// A progress bar on stderr when it is a terminal: count, rate, ETA, failures.
final class ProgressDisplay: @unchecked Sendable {
    private let enabled: Bool
    private var last = ContinuousClock.now
    private var drawn = false

    init(enabled: Bool) { self.enabled = enabled }

    func update(_ progress: BulkRefreshProgress) {
        guard enabled, ContinuousClock.now - last > .milliseconds(100) || progress.done == progress.total else { return }
        last = ContinuousClock.now
        let width = 30
        let filled = progress.total == 0 ? width : width * progress.done / progress.total
        let rate = progress.seconds > 0 ? Double(progress.done) / progress.seconds : 0
        let eta = rate > 0 ? Int(Double(progress.total - progress.done) / rate) : 0
        let bar = String(repeating: "#", count: filled) + String(repeating: " ", count: width - filled)
        Terminal.message("\r[\(bar)] \(progress.done)/\(progress.total)  \(Int(rate))/s  ETA \(eta)s  failures \(progress.failures) ")
        drawn = true
    }

    func finish() {
        if drawn { Terminal.message("\n") }
    }
}

struct AuditCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "List what needs action after an incident; exit 4 when anything does (to gate a deployment).",
        discussion: """
            Grants issued or last refreshed before --incident, grants obtained with a client secret that \
            is no longer current, apps whose current secret predates the incident, grants needing \
            re-authorization or revoked, tokens expiring within --expiring-within (default 7d).
            """)

    @OptionGroup var options: GlobalOptions
    @Option(help: "The incident's date (2014-04-07).") var incident: DateArgument?
    @Option(help: "Report tokens expiring within this long.") var expiringWithin = DurationArgument(argument: "7d")!

    func run() throws {
        let store = try options.openStore()
        let report = try Audit.run(store: store, incident: incident?.seconds, expiringWithin: expiringWithin.seconds, now: Clock.now())
        if options.json {
            try JSONOutput.print(report)
        } else if report.findings.isEmpty {
            Terminal.out("audit: \(report.apps) apps, \(report.grants) grants: nothing needs action\n")
        } else {
            let rows = report.findings.map { [$0.kind.replacing("_", with: " "), $0.subject, $0.detail] }
            Terminal.out(Table.render(header: ["FINDING", "SUBJECT", "DETAIL"], rows: rows))
            Terminal.out("audit: \(report.findings.count) findings in \(report.apps) apps and \(report.grants) grants\n")
        }
        if report.needsAction { Glibc.exit(ExitStatus.someFailed.rawValue) }
    }
}
