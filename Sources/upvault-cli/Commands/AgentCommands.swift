import ArgumentParser
import UPVault
import UPVaultAgent
import UPVaultPostgres

struct Unlock: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "unlock",
        abstract:
            "Ask for the passphrase once and start the agent: until 'upvault lock' or a time-out, commands need no passphrase.",
        discussion: """
            The agent holds the vault's key in locked memory and answers only processes of your user on \
            its socket ($UPVAULT_AGENT_SOCK, else $XDG_RUNTIME_DIR/upvault/agent.sock). A second unlock \
            while unlocked changes nothing (--extend pushes the time-outs out).
            """)

    @OptionGroup var options: GlobalOptions
    @Option(help: "Lock after this long whatever happens (90s, 30m, 8h, 2d).") var ttl = DurationArgument(
        argument: "8h")!
    @Option(help: "Lock after this long without a request.") var idle = DurationArgument(argument: "1h")!
    @Flag(help: "When already unlocked, restart both time-outs from now.") var extend = false
    @Flag(help: "Start the agent even when its memory cannot be locked (its keys could then reach swap).")
    var allowUnlockedMemory = false

    func run() throws {
        let (outcome, status, memory) = try AgentService.unlock(
            vaultPath: try options.location().description, environment: options.environment, ttl: ttl.duration,
            idle: idle.duration,
            extend: extend, allowUnlockedMemory: allowUnlockedMemory, key: options.unlockKey)
        if memory != .lockable { Terminal.warning("the agent runs anyway: \(MemoryLocking.describe(memory))") }
        if let tail = status.tail { options.warnAbout(tail) }
        if options.json {
            try JSONOutput.print(AgentStatusView(status))
            return
        }
        let prefix: String
        switch outcome {
        case .started: prefix = "unlocked"
        case .alreadyUnlocked: prefix = "already unlocked"
        case .extended: prefix = "unlocked; time-outs extended"
        }
        Terminal.error(
            "\(prefix) \(status.vault) until \(TimeText.iso8601(status.expiresAt)) "
                + "(or \(TimeText.remaining(status.idleExpiresAt)) without use); agent pid \(status.pid)")
    }
}

struct Lock: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lock", abstract: "Wipe the agent's keys and stop it.")

    @OptionGroup var options: GlobalOptions

    func run() throws {
        let location = try options.location().description
        guard let agent = try AgentClient.connect(vaultPath: location, environment: options.environment) else {
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

    @OptionGroup var options: GlobalOptions
    @Option var socket: String
    @Option var ttl: Int64
    @Option var idle: Int64
    @Flag var allowUnlockedMemory = false

    func run() async throws {
        let location = try options.location()
        let (environment, logger) = (options.environment, options.logger)
        try await AgentService.serve(
            vaultPath: location.description, socketPath: socket, ttl: .seconds(ttl), idle: .seconds(idle),
            allowUnlockedMemory: allowUnlockedMemory, logger: logger
        ) { key in try location.open(key: key, environment: environment, logger: logger) }
    }
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
        expiresAt = TimeText.iso8601(status.expiresAt)
        idleExpiresAt = TimeText.iso8601(status.idleExpiresAt)
        secondsLeft = max(0, min(status.expiresAt, status.idleExpiresAt) - TimeText.now())
    }
}
