import FoundationEssentials

#if canImport(Glibc)
import Glibc
#endif

/// A vault handle that asks the unlocked agent instead of holding the keys: the same `VaultStore` API,
/// no passphrase, no Argon2id. One connection, one request at a time.
public final class AgentClient: VaultStore, @unchecked Sendable {
    public let path: String
    /// The socket this client is connected to.
    public let socketPath: String
    private let connection: ProtectedState<Int32>

    private init(path: String, socketPath: String, fd: Int32) {
        self.path = path
        self.socketPath = socketPath
        connection = ProtectedState(fd)
    }

    deinit {
        connection.withLock { fd in
            if fd >= 0 { close(fd) }
            fd = -1
        }
    }

    /// A client for the agent serving the vault at `vaultPath`, or nil when no agent listens on the
    /// socket (or it serves another vault). Checks the socket directory and that the agent is ours.
    /// Without `verifyingVault`, the first request finds out instead (it fails with `otherVault`),
    /// which saves a round trip on hot paths.
    public static func connect(
        vaultPath: String, environment: [String: String], verifyingVault: Bool = true
    ) throws(AgentError) -> AgentClient? {
        let socketPath = AgentSocket.path(environment: environment)
        if access(AgentSocket.directory(of: socketPath), F_OK) != 0 { return nil }
        try AgentSocket.checkDirectory(of: socketPath, create: false)
        guard let fd = try AgentSocket.connect(socketPath) else { return nil }
        guard let peer = AgentSocket.peer(of: fd), peer.uid == geteuid() else {
            let uid = AgentSocket.peer(of: fd)?.uid ?? UInt32.max
            close(fd)
            throw .foreignPeer(uid: uid)
        }
        AgentSocket.setTimeouts(fd, seconds: 120)
        let client = AgentClient(path: Self.canonical(vaultPath), socketPath: socketPath, fd: fd)
        guard verifyingVault else { return client }
        do {
            _ = try client.status()
        } catch .otherVault {
            return nil
        } catch .connectionLost, .refused {
            return nil  // an agent in the middle of locking
        }
        return client
    }

    /// The vault path as the agent compares it: the directory resolved, the file name kept.
    package static func canonical(_ path: String) -> String {
        let directory = FileSystem.directory(of: path)
        let name = path.split(separator: "/").last.map(String.init) ?? path
        guard let resolved = realpath(directory, nil) else { return path }
        defer { free(resolved) }
        let base = String(cString: resolved)
        return (base == "/" ? "" : base) + "/" + name
    }

    // MARK: Requests

    func send(_ request: AgentRequest) throws(AgentError) -> AgentResponse {
        let payload = try AgentFrame.encode(request)
        return try connection.withLock { (fd) throws(AgentError) -> AgentResponse in
            guard fd >= 0 else { throw .connectionLost("closed") }
            try AgentFrame.write(payload, to: fd)
            guard let answer = try AgentFrame.read(from: fd) else { throw .connectionLost("the agent closed the connection") }
            let response = try AgentFrame.decode(AgentResponse.self, from: answer)
            if let failure = response.error {
                if failure.code == "other_vault" { throw .otherVault(failure.message) }
                throw .refused(message: failure.message, exitCode: failure.exitCode)
            }
            return response
        }
    }

    func request(_ op: AgentRequest.Operation, _ configure: (inout AgentRequest) -> Void = { _ in }) throws(AgentError) -> AgentResponse {
        var request = AgentRequest(op: op, vault: path)
        configure(&request)
        return try send(request)
    }

    /// The agent's state and time left.
    public func status() throws(AgentError) -> AgentStatus {
        guard let status = try request(.status).status else { throw .protocolViolation("status without a status") }
        return status
    }

    /// Wipes the agent's keys and stops it.
    public func lock() throws(AgentError) {
        _ = try request(.lock)
    }

    /// Pushes the time-outs out: `ttl` and `idle` seconds from now.
    public func extend(ttl: Int64?, idle: Int64?) throws(AgentError) -> AgentStatus {
        guard let status = try request(.extend, { $0.ttl = ttl; $0.idle = idle }).status else {
            throw .protocolViolation("extend without a status")
        }
        return status
    }

    /// A valid access token for a grant, refreshed by the agent when it expires within `minimumValidity`
    /// (or in any case with `forceRefresh`).
    /// With `app` or `user` nil, the agent picks the vault's only app or the app's only grant.
    public func accessToken(app: String?, user: String?, minimumValidity: Duration, forceRefresh: Bool = false) throws(AgentError) -> String {
        let response = try request(.token) { request in
            request.app = app
            request.user = user
            request.minValid = minimumValidity.components.seconds
            request.force = forceRefresh
        }
        guard let token = response.value else { throw .protocolViolation("token without a value") }
        return token
    }

    // MARK: VaultStore

    public func value(for key: EntryKey) throws -> SecureBytes? {
        let response = try request(.get) { $0.kind = key.kind.rawValue; $0.name = key.name }
        guard response.found == true else { return nil }
        guard let encoded = response.value, var bytes = Base64URL.decode(encoded, original: true) else {
            throw AgentError.protocolViolation("a value that is not base64")
        }
        defer { Sodium.wipe(&bytes) }
        return SecureBytes(copying: bytes)
    }

    public func names(of kind: EntryKind) throws -> [String] {
        try request(.names) { $0.kind = kind.rawValue }.names ?? []
    }

    public func contains(_ key: EntryKey) throws -> Bool {
        try request(.contains) { $0.kind = key.kind.rawValue; $0.name = key.name }.found == true
    }

    public func write(_ body: (inout VaultTransaction) throws -> Void) throws {
        var transaction = VaultTransaction()
        try body(&transaction)
        let changes = try transaction.records.map { record throws(AgentError) -> AgentRequest.Change in
            try transaction.arena.withBytes(record.slot) { (plaintext) throws(AgentError) -> AgentRequest.Change in
                guard let fields = RecordFrame.parse(plaintext) else { throw .protocolViolation("unreadable pending record") }
                let value = record.operation == .put ? Base64URL.encode(plaintext[fields.value], original: true) : nil
                return AgentRequest.Change(kind: record.key.kind.rawValue, name: record.key.name, value: value)
            }
        }
        _ = try request(.write) { $0.changes = changes }
    }

    /// Runs a bulk refresh in the agent (options as JSON) and returns its report (JSON).
    public func bulkRefresh(_ options: String) throws(AgentError) -> String {
        // A run over a million grants takes minutes: no receive time-out for this one.
        connection.withLock { fd in AgentSocket.setTimeouts(fd, seconds: 0) }
        defer { connection.withLock { fd in AgentSocket.setTimeouts(fd, seconds: 120) } }
        guard let report = try request(.bulkRefresh, { $0.options = options }).value else {
            throw .protocolViolation("bulk_refresh without a report")
        }
        return report
    }

    public func compact() throws {
        _ = try request(.compact)
    }

    public func withEntryLock<R>(_ key: EntryKey, timeout: Duration, _ body: () async throws -> R) async throws -> R {
        guard let offset = try request(.lockOffset, { $0.kind = key.kind.rawValue; $0.name = key.name }).offset else {
            throw AgentError.protocolViolation("lock_offset without an offset")
        }
        return try await Vault.withEntryLock(vaultPath: path, offset: offset, key: key, timeout: timeout, body)
    }
}
