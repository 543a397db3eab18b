import ArgumentParser
import UPVault
import UPVaultAgent
import UPVaultOAuth
import FoundationEssentials

#if canImport(Glibc)
import Glibc
#endif

struct Unlock: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Ask for the passphrase once and start the agent: until 'upvault lock' or a time-out, commands need no passphrase.",
        discussion: """
            The agent holds the vault's key in locked memory and answers only processes of your user on \
            its socket ($UPVAULT_AGENT_SOCK, else $XDG_RUNTIME_DIR/upvault/agent.sock). A second unlock \
            while unlocked changes nothing (--extend pushes the time-outs out).
            """)

    @OptionGroup var options: GlobalOptions
    @Option(help: "Lock after this long whatever happens (90s, 30m, 8h, 2d).") var ttl = DurationArgument(argument: "8h")!
    @Option(help: "Lock after this long without a request.") var idle = DurationArgument(argument: "1h")!
    @Flag(help: "When already unlocked, restart both time-outs from now.") var extend = false

    func run() throws {
        let environment = options.environment
        let path = options.vaultPath
        guard access(path, F_OK) == 0 else { throw VaultError.vaultNotFound(path: path) }
        if let agent = try AgentClient.connect(vaultPath: path, environment: environment) {
            let status = extend ? try agent.extend(ttl: ttl.seconds, idle: idle.seconds) : try agent.status()
            report(status, prefix: extend ? "unlocked; time-outs extended" : "already unlocked")
            return
        }
        let socket = AgentSocket.path(environment: environment)
        let vault = try options.openVault()
        var childEnvironment = environment
        for name in ["UPVAULT_PASSPHRASE_FILE", "UPVAULT_NEW_PASSPHRASE_FILE"] { childEnvironment[name] = nil }
        _ = try AgentLauncher.start(
            vault: vault, executable: try Self.executablePath(),
            arguments: [
                "agent", "--vault", AgentClient.canonical(path), "--socket", socket, "--ttl", String(ttl.seconds),
                "--idle", String(idle.seconds),
            ],
            environment: childEnvironment, timeout: .seconds(15))
        guard let agent = try AgentClient.connect(vaultPath: path, environment: environment) else {
            throw AgentError.startFailed("it is not answering on \(socket)")
        }
        report(try agent.status(), prefix: "unlocked")
    }

    func report(_ status: AgentStatus, prefix: String) {
        if options.json {
            try? JSONOutput.print(AgentStatusView(status))
        } else {
            Terminal.error("\(prefix) \(status.vault) until \(Clock.iso8601(status.expiresAt)) (or \(Clock.remaining(status.idleExpiresAt)) without use); agent pid \(status.pid)")
        }
    }

    static func executablePath() throws -> String {
        var buffer = [CChar](repeating: 0, count: 4096)
        let count = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard count > 0 else { throw CLIError(description: "cannot find the upvault executable (/proc/self/exe)") }
        return String(decoding: buffer.prefix(count).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

struct Lock: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Wipe the agent's keys and stop it.")

    @OptionGroup var options: GlobalOptions

    func run() throws {
        guard let agent = try AgentClient.connect(vaultPath: options.vaultPath, environment: options.environment) else {
            if !options.json { Terminal.error("not unlocked") }
            return
        }
        try agent.lock()
        if !options.json { Terminal.error("locked") }
    }
}

/// `upvault agent`: started by `unlock`, never by hand. The key arrives on fd 3.
struct AgentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agent", abstract: "The agent process (started by 'upvault unlock').", shouldDisplay: false)

    @Option var vault: String
    @Option var socket: String
    @Option var ttl: Int64
    @Option var idle: Int64

    func run() async throws {
        let server: AgentServer
        let oauth: OAuthClient
        do {
            let key = try AgentLauncher.receiveMasterKey()
            let opened = try Vault.open(at: vault, masterKey: key)
            oauth = OAuthClient(vault: opened)
            server = AgentServer(
                vault: opened, socketPath: socket, ttl: .seconds(ttl), idle: .seconds(idle),
                token: { app, user, margin, force in
                    if force { return try await oauth.refresh(app: app, user: user).accessToken }
                    return try await oauth.accessToken(app: app, user: user, minimumValidity: margin)
                },
                describe: { error in
                    let (message, code) = ExitStatus.describe(error) ?? ("\(type(of: error))", 1)
                    return (message, code)
                },
                bulkRefresh: { body in
                    let request = try JSONDecoder().decode(Refresh.AgentRequestBody.self, from: Data(body.utf8))
                    try oauth.pruneExpiredSecrets()
                    let report = try await oauth.bulkRefresh(request.options, resume: request.resume, dryRun: request.dryRun)
                    return String(decoding: try JSONEncoder().encode(report), as: UTF8.self)
                })
        } catch {
            AgentLauncher.report("E " + (ExitStatus.describe(error)?.message ?? "cannot open the vault"))
            throw error
        }
        let serverBox = UncheckedBox(server)
        let outcome: Result<Void, AgentError> = await withCheckedContinuation { continuation in
            // The accept loop blocks: it gets a thread of its own, off the cooperative pool.
            DetachedThread.start {
                do throws(AgentError) {
                    try serverBox.value.run { AgentLauncher.report("R") }
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

struct UncheckedBox<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}

struct AgentStatusView: Encodable {
    var state = "unlocked"
    var vault: String
    var pid: Int32
    var expiresAt: String
    var idleExpiresAt: String
    var secondsLeft: Int64

    init(_ status: AgentStatus) {
        vault = status.vault
        pid = status.pid
        expiresAt = Clock.iso8601(status.expiresAt)
        idleExpiresAt = Clock.iso8601(status.idleExpiresAt)
        secondsLeft = max(0, min(status.expiresAt, status.idleExpiresAt) - Clock.now())
    }

    enum CodingKeys: String, CodingKey {
        case state, vault, pid
        case expiresAt = "expires_at"
        case idleExpiresAt = "idle_expires_at"
        case secondsLeft = "seconds_left"
    }
}
