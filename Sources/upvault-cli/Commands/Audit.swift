import ArgumentParser
import UPVault
import UPVaultOAuth

struct AuditCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "List what needs action after an incident; exit 4 when anything does (to gate a deployment).",
        discussion: """
            Grants issued or last refreshed before --incident, grants obtained with a client secret that \
            is no longer current, apps whose current secret predates the incident, grants needing \
            re-authorization or revoked, refreshes in flight or cut off, revocations pending or failed, \
            tokens expiring within --expiring-within (default 7d).
            """)

    @OptionGroup var options: GlobalOptions
    @Option(help: "The incident's date (2014-04-07).") var incident: DateArgument?
    @Option(help: "Report tokens expiring within this long.") var expiringWithin = DurationArgument(argument: "7d")!

    func run() throws {
        let report = try Audit.run(
            store: try options.openStore(), incident: incident?.seconds, expiringWithin: expiringWithin.seconds,
            now: TimeText.now())
        if options.json {
            try JSONOutput.print(report)
        } else if report.findings.isEmpty {
            Terminal.out("audit: \(report.apps) apps, \(report.grants) grants: nothing needs action\n")
        } else {
            let rows = report.findings.map { [$0.kind.replacing("_", with: " "), $0.subject, $0.detail] }
            Terminal.out(Table.render(header: ["FINDING", "SUBJECT", "DETAIL"], rows: rows))
            Terminal.out(
                "audit: \(report.findings.count) findings in \(report.apps) apps and \(report.grants) grants\n")
        }
        if report.needsAction { throw ExitStatus.someFailed.exitCode }
    }
}
