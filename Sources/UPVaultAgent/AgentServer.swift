import Dispatch
public import Logging
import Synchronization
public import UPVault

#if canImport(Glibc)
import Glibc
#endif

/// The agent: holds an unlocked `Vault` (its keys in `sodium_malloc` memory) and serves requests from
/// processes of the same user on a Unix-domain socket. It never sends the master key; it performs
/// get/put/list/token for its clients. Each connection's peer uid must be ours (SO_PEERCRED); a frame
/// that is too large or not a request closes that connection only. It locks (wipes the keys and exits)
/// on `lock`, on its absolute and idle time-outs, on SIGTERM/SIGINT, and when the vault was re-keyed.
public final class AgentServer: @unchecked Sendable {
    /// Performs the `token` operation (the CLI wires the OAuth flows in).
    public typealias TokenProvider = @Sendable (_ app: String, _ user: String, _ minimumValidity: Duration, _ force: Bool) async throws -> String
    /// Turns an error into the message and exit code a client shows (the CLI's mapping).
    public typealias FailureDescription = @Sendable (any Error) -> (message: String, exitCode: Int32)
    /// Runs a bulk refresh from options JSON and returns its report JSON (the CLI wires the flows in).
    public typealias BulkRefreshRunner = @Sendable (_ options: String) async throws -> String

    struct Deadlines {
        var absolute: Int64
        var idle: Int64
        var idleSeconds: Int64
    }

    private let vault: Mutex<Vault?>
    private let vaultPath: String
    private let socketPath: String
    private let deadlines: Mutex<Deadlines>
    private let token: TokenProvider
    private let describe: FailureDescription
    private let bulkRefresh: BulkRefreshRunner?
    private let logger: Logger
    private let connections = Atomic<Int>(0)
    private let stopping = Atomic<Bool>(false)
    /// Requests being handled: the idle time-out does not run out under a long one (a bulk refresh).
    private let busy = Atomic<Int>(0)
    private let socketIdentity = Mutex<(device: UInt64, inode: UInt64)?>(nil)
    private let instanceLock = Mutex<Int32?>(nil)
    /// At most this many connections are served at once; more are closed at accept.
    public static let maximumConnections = 256

    static let signalled = Atomic<Bool>(false)

    public init(
        vault: Vault, socketPath: String, ttl: Duration, idle: Duration, token: @escaping TokenProvider,
        describe: @escaping FailureDescription, bulkRefresh: BulkRefreshRunner? = nil, logger: Logger = Vault.silentLogger
    ) {
        let now = Self.now()
        self.vault = Mutex(vault)
        vaultPath = AgentClient.canonical(vault.path)
        self.socketPath = socketPath
        deadlines = Mutex(Deadlines(
            absolute: now + ttl.components.seconds, idle: now + idle.components.seconds, idleSeconds: idle.components.seconds))
        self.token = token
        self.describe = describe
        self.bulkRefresh = bulkRefresh
        self.logger = logger
    }

    static func now() -> Int64 { Int64(time(nil)) }

    /// Takes the instance lock, binds the socket, calls `ready`, and serves until locked. Returns after
    /// the keys were wiped and the socket removed.
    public func run(ready: () -> Void) throws(AgentError) {
        try AgentSocket.checkDirectory(of: socketPath, create: true)
        // An agent that is locking lets go of this within moments; one that is serving does not.
        var instanceLock: Int32? = nil
        for _ in 0..<150 {
            instanceLock = try AgentSocket.takeInstanceLock(for: socketPath)
            if instanceLock != nil { break }
            usleep(20_000)
        }
        guard let instanceLock else { throw .alreadyRunning(socketPath) }
        self.instanceLock.withLock { $0 = instanceLock }
        defer { releaseInstanceLock() }
        let listener = try AgentSocket.listen(socketPath)
        var bound = stat()
        _ = lstat(socketPath, &bound)
        socketIdentity.withLock { $0 = (UInt64(bound.st_dev), UInt64(bound.st_ino)) }
        signal(SIGPIPE, SIG_IGN)
        signal(SIGTERM) { _ in AgentServer.signalled.store(true, ordering: .relaxed) }
        signal(SIGINT) { _ in AgentServer.signalled.store(true, ordering: .relaxed) }
        signal(SIGHUP, SIG_IGN)
        ready()
        logger.info("agent listening", metadata: ["socket": "\(socketPath)"])

        while !stopping.load(ordering: .relaxed) && !Self.signalled.load(ordering: .relaxed) {
            if let reason = expired() {
                logger.info("agent locking", metadata: ["reason": "\(reason)"])
                break
            }
            var poller = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
            let ready = poll(&poller, 1, 100)
            guard ready > 0 else { continue }
            let connection = accept(listener, nil, nil)
            guard connection >= 0 else { continue }
            _ = fcntl(connection, F_SETFD, FD_CLOEXEC)
            guard let peer = AgentSocket.peer(of: connection), peer.uid == geteuid() else {
                logger.warning("refused a connection from another user")
                close(connection)
                continue
            }
            guard connections.wrappingAdd(1, ordering: .relaxed).newValue <= Self.maximumConnections else {
                connections.wrappingSubtract(1, ordering: .relaxed)
                close(connection)
                continue
            }
            DetachedThread.start { [self] in
                serve(connection)
                connections.wrappingSubtract(1, ordering: .relaxed)
            }
        }
        stopping.store(true, ordering: .relaxed)
        removeSocket()
        close(listener)
        wipe()
    }

    /// Lets a new agent start (after the socket is gone and the keys are wiped).
    private func releaseInstanceLock() {
        instanceLock.withLock { fd in
            if let descriptor = fd { close(descriptor) }
            fd = nil
        }
    }

    /// Removes the socket, only if it is still the one we bound (a new agent may own the path).
    private func removeSocket() {
        socketIdentity.withLock { identity in
            guard let bound = identity else { return }
            var current = stat()
            if lstat(socketPath, &current) == 0 && current.st_ino == bound.inode && current.st_dev == bound.device {
                unlink(socketPath)
            }
            identity = nil
        }
    }

    /// Drops the vault: its keys (and every decrypted buffer it holds) are zeroed and freed.
    private func wipe() {
        vault.withLock { vault in
            vault?.wipeKeys()
            vault = nil
        }
    }

    private func expired() -> String? {
        let now = Self.now()
        return deadlines.withLock { deadlines in
            if now >= deadlines.absolute { return "ttl" }
            if now >= deadlines.idle && busy.load(ordering: .relaxed) == 0 { return "idle" }
            return nil
        }
    }

    // MARK: Connections

    private func serve(_ fd: Int32) {
        defer { close(fd) }
        AgentSocket.setTimeouts(fd, seconds: 30)
        while !stopping.load(ordering: .relaxed) {
            let payload: [UInt8]
            do {
                guard let frame = try AgentFrame.read(from: fd) else { return }
                payload = frame
            } catch {
                logger.debug("closing a connection", metadata: ["reason": "\(error)"])
                return
            }
            guard let request = try? AgentFrame.decode(AgentRequest.self, from: payload) else {
                logger.debug("closing a connection: not a request")
                return
            }
            let response = handle(request)
            guard let encoded = try? AgentFrame.encode(response), (try? AgentFrame.write(encoded, to: fd)) != nil else { return }
            if request.op == .lock && response.ok {
                stopping.store(true, ordering: .relaxed)
                return
            }
        }
    }

    func handle(_ request: AgentRequest) -> AgentResponse {
        // Clients send the canonical path already; resolve only what does not match as sent.
        guard request.vault == vaultPath || AgentClient.canonical(request.vault) == vaultPath else {
            return .failure(vaultPath, exitCode: 1, code: "other_vault")
        }
        if request.op != .status {
            busy.wrappingAdd(1, ordering: .relaxed)
            deadlines.withLock { $0.idle = Self.now() + $0.idleSeconds }
        }
        defer {
            if request.op != .status {
                deadlines.withLock { $0.idle = Self.now() + $0.idleSeconds }
                busy.wrappingSubtract(1, ordering: .relaxed)
            }
        }
        guard let vault = vault.withLock({ $0 }) else {
            return .failure("the agent is locking", exitCode: 75, code: "locked")
        }
        do {
            return try perform(request, on: vault)
        } catch let error as AgentRequestError {
            return .failure(error.message, exitCode: 64, code: "bad_request")
        } catch {
            if case VaultError.rekeyedElsewhere = error {
                // Our key no longer opens the vault: lock, so clients fall back to the passphrase.
                stopping.store(true, ordering: .relaxed)
            }
            let (message, code) = describe(error)
            return .failure(message, exitCode: code, code: "failed")
        }
    }

    private func perform(_ request: AgentRequest, on vault: Vault) throws -> AgentResponse {
        var response = AgentResponse()
        switch request.op {
        case .status:
            response.status = status()
        case .get:
            let key = try request.key()
            if let value = try vault.value(for: key) {
                response.found = true
                response.value = value.withUnsafeBytes { Base64URL.encode($0, original: true) }
            } else {
                response.found = false
            }
        case .names:
            guard let kind = request.kind.flatMap(EntryKind.init(rawValue:)) else { throw AgentRequestError("unknown kind") }
            response.names = try vault.names(of: kind)
        case .contains:
            response.found = try vault.contains(try request.key())
        case .write:
            let changes = request.changes ?? []
            try vault.write { transaction in
                for change in changes {
                    guard let kind = EntryKind(rawValue: change.kind) else { throw AgentRequestError("unknown kind") }
                    let key = EntryKey(kind, change.name)
                    if let encoded = change.value {
                        guard var bytes = Base64URL.decode(encoded, original: true) else { throw AgentRequestError("value is not base64") }
                        let value = SecureBytes(copying: bytes)
                        _ = bytes.withUnsafeMutableBytes { $0.initializeMemory(as: UInt8.self, repeating: 0) }
                        try transaction.put(key, value: value)
                    } else {
                        transaction.remove(key)
                    }
                }
            }
        case .lockOffset:
            response.offset = vault.entryLockOffset(for: try request.key())
        case .token:
            // A client that named neither app nor user leaves the choice to the vault (one round trip).
            let app = try request.app ?? vault.onlyApp()
            let user = try request.user ?? vault.onlyUser(of: app)
            let margin = Duration.seconds(max(0, request.minValid ?? 300))
            let force = request.force ?? false
            response.value = try Self.wait { try await self.token(app, user, margin, force) }
        case .compact:
            try vault.compact()
        case .bulkRefresh:
            guard let bulkRefresh else { throw AgentRequestError("this agent does not run bulk refreshes") }
            let options = request.options ?? "{}"
            response.value = try Self.wait { try await bulkRefresh(options) }
        case .lock:
            // Gone before the answer: the socket first (no new client reaches us), then the keys.
            stopping.store(true, ordering: .relaxed)
            removeSocket()
            wipe()
            releaseInstanceLock()
        case .extend:
            deadlines.withLock { deadlines in
                let now = Self.now()
                if let ttl = request.ttl { deadlines.absolute = now + ttl }
                if let idle = request.idle { deadlines.idleSeconds = idle }
                deadlines.idle = now + deadlines.idleSeconds
            }
            response.status = status()
        }
        return response
    }

    private func status() -> AgentStatus {
        let (absolute, idle) = deadlines.withLock { ($0.absolute, $0.idle) }
        return AgentStatus(vault: vaultPath, pid: getpid(), expiresAt: absolute, idleExpiresAt: idle)
    }

    /// Runs async work from a connection thread (never a cooperative-pool thread), waiting for it.
    static func wait<R: Sendable>(_ work: @escaping @Sendable () async throws -> R) throws -> R {
        let result = Mutex<Result<R, any Error>?>(nil)
        let done = DispatchSemaphore(value: 0)
        Task {
            let outcome: Result<R, any Error>
            do { outcome = .success(try await work()) } catch { outcome = .failure(error) }
            result.withLock { $0 = outcome }
            done.signal()
        }
        done.wait()
        return try result.withLock { $0! }.get()
    }
}

struct AgentRequestError: Error {
    var message: String
    init(_ message: String) { self.message = message }
}

extension AgentRequest {
    func key() throws -> EntryKey {
        guard let kind = kind.flatMap(EntryKind.init(rawValue:)), let name else { throw AgentRequestError("a request needs kind and name") }
        return EntryKey(kind, name)
    }
}
