/// What `upvault status` shows: the vault file as anyone may read it (no passphrase), and whether an
/// agent holds it unlocked, until when.
public struct VaultStatus: Codable, Sendable, Equatable {
    public var path: String
    /// `locked` or `unlocked`.
    public var state: String
    public var agentPid: Int32?
    /// When the agent locks whatever happens, and when it locks without a request before.
    public var locksAt: UnixTime?
    public var idleLocksAt: UnixTime?
    /// Seconds until the agent locks (the earlier of the two).
    public var secondsLeft: Int64?
    /// `UPV1`.
    public var format: String
    public var vaultId: String
    public var generation: UInt64
    /// Unix seconds.
    public var createdAt: UInt64
    public var kdf: String?
    public var recoveryKey: Bool
    public var fileSize: Int

    /// The status of the vault at `path`: its header, and the agent serving it, if one does.
    public static func of(vaultAt path: String, environment: [String: String]) throws -> VaultStatus {
        guard Vault.exists(at: path) else { throw VaultError.vaultNotFound(path: path) }
        return try of(try Vault.inspect(at: path), environment: environment)
    }

    /// The status of a vault whose header says `summary` (a file's, or a database's header row).
    public static func of(_ summary: VaultSummary, environment: [String: String]) throws -> VaultStatus {
        let path = summary.path
        let agent = try AgentClient.connect(vaultPath: path, environment: environment)?.status()
        return VaultStatus(
            path: summary.path, state: agent == nil ? "locked" : "unlocked", agentPid: agent?.pid,
            locksAt: agent.map { UnixTime($0.expiresAt) }, idleLocksAt: agent.map { UnixTime($0.idleExpiresAt) },
            secondsLeft: agent.map { max(0, min($0.expiresAt, $0.idleExpiresAt) - UnixTime.now().seconds) },
            format: summary.format, vaultId: summary.vaultID, generation: summary.generation,
            createdAt: summary.createdAt, kdf: summary.kdf?.description, recoveryKey: summary.hasRecoveryKey,
            fileSize: summary.fileSize)
    }
}
