#if canImport(Glibc)
import Glibc
#endif

/// What an open vault holds and how its file looks.
public struct VaultStatistics: Sendable, Equatable {
    public var generation: UInt64
    public var createdAt: UInt64
    public var entryCounts: [EntryKind: Int]
    /// Records in the log, live and dead.
    public var recordCount: Int
    /// Records superseded or deleted, which the next compaction drops.
    public var deadRecordCount: Int
    public var fileSize: Int
    public var tornTail: TornTail?
    /// The passphrase slot's Argon2id parameters.
    public var kdf: KDFParameters?
    public var hasRecoveryKey: Bool

    package init(
        generation: UInt64, createdAt: UInt64, entryCounts: [EntryKind: Int], recordCount: Int, deadRecordCount: Int,
        fileSize: Int, tornTail: TornTail?, kdf: KDFParameters?, hasRecoveryKey: Bool
    ) {
        self.generation = generation
        self.createdAt = createdAt
        self.entryCounts = entryCounts
        self.recordCount = recordCount
        self.deadRecordCount = deadRecordCount
        self.fileSize = fileSize
        self.tornTail = tornTail
        self.kdf = kdf
        self.hasRecoveryKey = hasRecoveryKey
    }
}

/// What the header of a vault says, read without any key (for `upvault status`).
public struct VaultSummary: Sendable, Equatable {
    public var path: String
    /// `UPV1` for a file, `UPVR1` for a database (Vault/ROWS.md).
    public var format: String
    public var formatVersion: UInt16
    public var vaultID: String
    public var generation: UInt64
    public var createdAt: UInt64
    public var kdf: KDFParameters?
    public var hasRecoveryKey: Bool
    public var fileSize: Int

    package init(
        path: String, format: String, formatVersion: UInt16, vaultID: String, generation: UInt64, createdAt: UInt64,
        kdf: KDFParameters?, hasRecoveryKey: Bool, fileSize: Int
    ) {
        self.path = path
        self.format = format
        self.formatVersion = formatVersion
        self.vaultID = vaultID
        self.generation = generation
        self.createdAt = createdAt
        self.kdf = kdf
        self.hasRecoveryKey = hasRecoveryKey
        self.fileSize = fileSize
    }
}

extension Vault {
    /// The file's tail when it does not end in a seal right after its last complete batch.
    public func tail() throws(VaultError) -> TornTail? {
        try inspectState { state in state.tornTail }
    }

    /// Counts and sizes of the vault as it is on disk now.
    public func statistics() throws(VaultError) -> VaultStatistics {
        try inspectState { state in Self.statistics(of: state) }
    }

    static func statistics(of state: State) -> VaultStatistics {
        var counts: [EntryKind: Int] = [:]
        for kind in EntryKind.allCases { counts[kind] = 0 }
        counts.merge(state.index.counts()) { _, counted in counted }
        return VaultStatistics(
            generation: state.header.generation, createdAt: state.header.createdAt, entryCounts: counts,
            recordCount: Int(state.committed.count), deadRecordCount: state.deadRecordCount, fileSize: state.fileSize,
            tornTail: state.tornTail, kdf: state.header.slots.first { $0.kind == .passphrase }?.kdf,
            hasRecoveryKey: state.header.slots.contains { $0.kind == .recoveryKey })
    }

    /// Reads the header of the vault at `path` without unlocking it.
    public static func inspect(at path: String) throws(VaultError) -> VaultSummary {
        let file = try PosixFile.open(path, flags: O_RDONLY)
        let status = try file.status()
        let bytes = try file.read(
            count: Swift.min(status.size, UPV1.headerByteCount(slotCount: UPV1.maximumSlotCount)), at: 0)
        let header = try bytes.withRawBytes { (raw) throws(VaultError) -> VaultHeader in try VaultHeader.decode(raw) }
        return VaultSummary(
            path: path, format: "UPV1", formatVersion: UPV1.version,
            vaultID: Hex.lowercase(header.vaultID),
            generation: header.generation, createdAt: header.createdAt,
            kdf: header.slots.first { $0.kind == .passphrase }?.kdf,
            hasRecoveryKey: header.slots.contains { $0.kind == .recoveryKey }, fileSize: status.size)
    }
}

extension Vault {
    /// `fsck`: verifies the whole vault (header, every record, the seal, every entry) and, with
    /// `repair`, removes an interrupted write at the end and verifies again.
    public func check(repair: Bool) throws(VaultError) -> (statistics: VaultStatistics, repaired: Bool) {
        let statistics = try verify()
        guard statistics.tornTail != nil && repair else { return (statistics, false) }
        try self.repair()
        return (try verify(), true)
    }
}
