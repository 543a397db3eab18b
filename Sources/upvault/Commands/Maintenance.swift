import ArgumentParser
import UPVault

struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show the vault's file, format and key settings (needs no passphrase).")

    @OptionGroup var options: GlobalOptions

    func run() throws {
        let report = try VaultStatus.of(vaultAt: options.vaultPath, environment: options.environment)
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
        abstract: "Verify the whole vault: header, every record, the seal, every entry.",
        discussion: "Exit 0 when clean, 65 when damaged or when an interrupted write was found (--repair removes it).")

    @OptionGroup var options: GlobalOptions

    @Flag(help: "Remove an interrupted write at the end of the file.")
    var repair = false

    func run() throws {
        let path = options.vaultPath
        guard Vault.exists(at: path) else { throw VaultError.vaultNotFound(path: path) }
        let passphrase = try options.passphraseSource.read(prompt: "Passphrase for \(path): ")
        let (statistics, repaired) = try Vault.open(at: path, passphrase: passphrase, logger: options.logger)
            .check(repair: repair)
        let report = StatisticsReport(statistics, path: path, repaired: repaired)
        if options.json {
            try JSONOutput.print(report)
        } else {
            Terminal.out(report.text)
        }
        if let torn = statistics.tornTail {
            throw CLIError(
                description: "the vault ends in an interrupted write (\(torn.byteCount) bytes at offset "
                    + "\(torn.offset)); run 'upvault fsck --repair' to remove it",
                category: .integrity)
        }
    }
}

struct Compact: ParsableCommand {
    static let configuration = CommandConfiguration(
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
        self.repaired = repaired
    }

    var text: String {
        """
        vault:      \(path)
        generation: \(generation)
        entries:    \(secrets) secrets, \(apps) apps, \(grants) grants
        records:    \(records) (\(deadRecords) dead)
        file size:  \(fileSize) bytes
        status:     \(tornTailBytes > 0 ? "interrupted write of \(tornTailBytes) bytes at the end" : repaired ? "repaired, ok" : "ok")

        """
    }
}
