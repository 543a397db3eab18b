import ArgumentParser
import UPVault
import UPVaultPostgres

struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show the vault's file, format and key settings (needs no passphrase).")

    @OptionGroup var options: GlobalOptions

    func run() throws {
        let report = try options.location().status(environment: options.environment, logger: options.logger)
        if options.json {
            try JSONOutput.print(report)
            return
        }
        let state = report.locksAt.map { locksAt in
            "unlocked (agent pid \(report.agentPid ?? 0)): locks at \(locksAt) or after "
                + "\(TimeText.remaining(report.idleLocksAt?.seconds ?? 0)) without use"
        }
        Terminal.out(
            """
            vault:        \(report.path)
            state:        \(state ?? "locked (commands ask for the passphrase; 'upvault unlock' to unlock once)")
            format:       \(report.format), generation \(report.generation), created \(report.createdAt) (unix time)
            key:          \(report.kdf ?? "none")\(report.recoveryKey ? ", plus a recovery key" : "")
            file size:    \(report.fileSize) bytes

            """)
    }
}

struct Fsck: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fsck",
        abstract: "Verify the whole vault: header, every record, the seal, every entry.",
        discussion: """
            Exit 0 when clean; 65 when damaged, when the file does not end in a seal (an interrupted \
            write, or a file cut short: --repair seals it after its last complete batch), or when the \
            vault is older than its anchor (restored from a copy: --accept-restore accepts it).
            """)

    @OptionGroup var options: GlobalOptions

    @Flag(help: "End the file in a seal after its last complete batch, removing any tail.")
    var repair = false

    @Flag(help: "Accept a vault older than its anchor (after restoring it from a backup on purpose).")
    var acceptRestore = false

    func run() throws {
        let path = options.vaultPath
        if case .postgres = try options.location() {
            // A database vault has no tail to repair and no anchor: every row is checked.
            try print(StatisticsReport(try options.openVault().verify(), path: path, repaired: false))
            return
        }
        guard Vault.exists(at: path) else { throw VaultError.vaultNotFound(path: path) }
        let passphrase = try options.passphraseSource.read(prompt: "Passphrase for \(path): ")
        let anchors = VaultAnchors.forUser(environment: options.environment)
        let (statistics, repaired) = try Vault.open(
            at: path, passphrase: passphrase, anchors: acceptRestore ? anchors.acceptingOlderVault() : anchors,
            logger: options.logger
        ).check(repair: repair)
        try print(StatisticsReport(statistics, path: path, repaired: repaired))
        if let tail = statistics.tornTail {
            throw CLIError(
                description: "the vault does not end in a seal: \(tail); run 'upvault fsck --repair' to seal it "
                    + "after its last complete batch", category: .integrity)
        }
    }
}

extension Fsck {
    func print(_ report: StatisticsReport) throws {
        if options.json {
            try JSONOutput.print(report)
        } else {
            Terminal.out(report.text)
        }
    }
}

struct Compact: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compact",
        abstract: "Rewrite the vault without superseded and deleted records (atomic; old or new file, never a mix).")

    @OptionGroup var options: GlobalOptions

    func run() throws {
        let vault = try options.openVault()
        let before = try vault.statistics()
        try vault.compact()
        let after = try vault.statistics()
        if options.json {
            try JSONOutput.print(StatisticsReport(after, path: vault.path, repaired: false))
            return
        }
        Terminal.out(
            "compacted: \(before.recordCount) records, \(before.fileSize) bytes -> \(after.recordCount) records, \(after.fileSize) bytes\n"
        )
    }
}

struct StatisticsReport: Encodable {
    var path: String
    var generation: UInt64
    var secrets: Int
    var apps: Int
    var grants: Int
    var records: Int
    var deadRecords: Int
    var fileSize: Int
    var tornTailBytes: Int
    /// `interrupted_write` or `unsealed` when the file does not end in a seal.
    var tail: TornTail.Kind?
    var repaired: Bool

    init(_ statistics: VaultStatistics, path: String, repaired: Bool) {
        self.path = path
        generation = statistics.generation
        secrets = statistics.entryCounts[.secret] ?? 0
        apps = statistics.entryCounts[.app] ?? 0
        grants = statistics.entryCounts[.grant] ?? 0
        records = statistics.recordCount
        deadRecords = statistics.deadRecordCount
        fileSize = statistics.fileSize
        tornTailBytes = statistics.tornTail?.byteCount ?? 0
        tail = statistics.tornTail?.kind
        self.repaired = repaired
    }

    var status: String {
        switch tail {
        case .interruptedWrite: "not sealed: an interrupted write of \(tornTailBytes) bytes at the end"
        case .unsealed: "not sealed: the last batch has no complete seal (cut short, or interrupted)"
        case nil: repaired ? "repaired, ok" : "ok"
        }
    }

    var text: String {
        """
        vault:      \(path)
        generation: \(generation)
        entries:    \(secrets) secrets, \(apps) apps, \(grants) grants
        records:    \(records) (\(deadRecords) dead)
        file size:  \(fileSize) bytes
        status:     \(status)

        """
    }
}
