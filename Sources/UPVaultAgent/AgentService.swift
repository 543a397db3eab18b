public import Logging
public import UPVault
import UPVaultOAuth

/// The agent's life from both ends: `unlock` (start one, or find the one running) and `serve` (what
/// the started process runs). The CLI's `unlock` and hidden `agent` commands call these and nothing else.
public enum AgentService {
    /// What `unlock` did.
    public enum Outcome: String, Sendable {
        case started
        case alreadyUnlocked = "already_unlocked"
        case extended
    }

    /// Unlocks the vault at `vaultPath` for `ttl` (absolute) and `idle` (without requests). When an agent
    /// already serves it, nothing changes unless `extend`: that restarts both time-outs, as long as the
    /// new absolute one is not later than the agent's; a later one needs the passphrase (`key`), and a
    /// new agent replaces the running one. Otherwise `key` derives the vault's key (the passphrase, then
    /// Argon2id and the header's MAC: `Vault.unlockKey`), and an agent is started from `executable` (by
    /// default this one, as `EXECUTABLE agent ...`), handed the key over a pipe, and awaited while it
    /// opens the vault: the vault is read once, by the agent.
    ///
    /// The agent keeps keys for hours, so it refuses to start when its memory cannot be locked
    /// (`MemoryLocking`), checked here before the passphrase is asked for and again in the agent; with
    /// `allowUnlockedMemory` it starts anyway and the returned `memory` says why it is not locked.
    public static func unlock(
        vaultPath: String, environment: [String: String], ttl: Duration, idle: Duration, extend: Bool = false,
        allowUnlockedMemory: Bool = false, executable: String? = nil, key: () throws -> VaultKey
    ) throws -> (outcome: Outcome, status: AgentStatus, memory: MemoryLocking.Status) {
        // A database vault's existence is the key's business (`key` reads its header).
        if !VaultLocation.isURL(vaultPath) && !FileSystem.exists(vaultPath) {
            throw VaultError.vaultNotFound(path: vaultPath)
        }
        let memory = MemoryLocking.probe()
        if memory != .lockable && !allowUnlockedMemory { throw AgentError.memoryNotLockable(memory) }
        var replacing: AgentClient?
        if let agent = try AgentClient.connect(vaultPath: vaultPath, environment: environment) {
            guard extend else { return (.alreadyUnlocked, try agent.status(), memory) }
            let status = try agent.status()
            if UnixTime.now().seconds + ttl.components.seconds <= status.expiresAt {
                switch Result(catching: { () throws(AgentError) in
                    try agent.extend(ttl: ttl.components.seconds, idle: idle.components.seconds)
                }) {
                case .success(let extended): return (.extended, extended, memory)
                case .failure(.refused(_, .usage)): break  // the agent's clock ticked past ours: later after all
                case .failure(let error): throw error
                }
            }
            // Later than the agent's absolute time-out: that takes the passphrase, and a new agent.
            replacing = agent
        }
        let socket = AgentSocket.path(environment: environment)
        let vaultKey = try key()
        if let replacing { try replacing.lock() }
        let childEnvironment = environment.filter { !ExecEnvironment.passphraseFiles.contains($0.key) }
        _ = try AgentLauncher.start(
            key: vaultKey, executable: try executable ?? FileSystem.executablePath(),
            arguments: [
                "agent", "--vault", AgentClient.canonical(vaultPath), "--socket", socket,
                "--ttl", String(ttl.components.seconds), "--idle", String(idle.components.seconds),
            ] + (allowUnlockedMemory ? ["--allow-unlocked-memory"] : []),
            environment: childEnvironment, timeout: .seconds(15))
        guard let agent = try AgentClient.connect(vaultPath: vaultPath, environment: environment) else {
            throw AgentError.startFailed("it is not answering on \(socket)")
        }
        return (replacing == nil ? .started : .extended, try agent.status(), memory)
    }

    /// The agent process: the key from descriptor 3, the vault opened with it (by `open`: by default the
    /// vault file at `vaultPath`; a database vault's opener comes from UPVaultPostgres' `StoreLocation`),
    /// then the socket served until the agent locks. Readiness or the reason it could not start goes to
    /// descriptor 4.
    public static func serve(
        vaultPath: String, socketPath: String, ttl: Duration, idle: Duration, allowUnlockedMemory: Bool = false,
        logger: Logger = Vault.silentLogger,
        open: ((_ key: borrowing VaultKey) throws -> any KeyedVaultStore)? = nil
    ) async throws {
        let server: AgentServer
        let oauth: OAuthClient
        do {
            let key = VaultKey(try AgentLauncher.receiveMasterKey())
            let memory = MemoryLocking.probe()
            if memory != .lockable {
                guard allowUnlockedMemory else { throw AgentError.memoryNotLockable(memory) }
                logger.warning("serving with unlocked memory", metadata: ["why": "\(MemoryLocking.describe(memory))"])
            }
            let vault: any KeyedVaultStore
            if let open {
                vault = try open(key)
            } else {
                vault = try Vault.open(at: vaultPath, key: key, logger: logger)
            }
            oauth = OAuthClient(vault: vault, logger: logger)
            let handler = AgentRequestHandler(vault: vault, oauth: oauth, ttl: ttl, idle: idle, logger: logger)
            server = AgentServer(handler: handler, socketPath: socketPath, logger: logger)
        } catch {
            AgentLauncher.reportFailure(error)
            throw error
        }
        let outcome: Result<Void, AgentError> = await withCheckedContinuation { continuation in
            // The accept loop blocks: it gets a thread of its own, off the cooperative pool.
            DetachedThread.start {
                do throws(AgentError) {
                    try server.run { AgentLauncher.report("R") }
                    continuation.resume(returning: .success(()))
                } catch {
                    continuation.resume(returning: .failure(error))
                }
            }
        }
        await oauth.shutdown()
        if case .failure(let error) = outcome {
            AgentLauncher.report("E " + error.description)
            throw error
        }
    }
}
