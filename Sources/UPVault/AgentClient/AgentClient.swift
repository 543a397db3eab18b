import FoundationEssentials
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A vault handle that asks the unlocked agent instead of holding the keys: the same `VaultStore` API,
/// no passphrase, no Argon2id. One connection, one request at a time.
public final class AgentClient: VaultStore {
    public let path: String
    /// The socket this client is connected to.
    public let socketPath: String
    private let connection: Mutex<Int32>
    /// The agent's status from the last `status` request (connecting asks for one).
    private let lastStatus = Mutex<AgentStatus?>(nil)

    private init(path: String, socketPath: String, fd: Int32) {
        self.path = path
        self.socketPath = socketPath
        connection = Mutex(fd)
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
        guard let fd = try connectToOwnAgent(socketPath) else { return nil }
        let client = AgentClient(path: Self.canonical(vaultPath), socketPath: socketPath, fd: fd)
        guard verifyingVault else { return client }
        do {
            _ = try client.status()
        } catch .otherVault {
            return nil
        } catch .refused(let message, .busy) {
            throw .refused(message: message, category: .busy)  // an agent that is there, but full: say so
        } catch .connectionLost, .refused {
            return nil  // an agent in the middle of locking
        }
        return client
    }

    /// A connection to the socket, checked to be served by a process of our own user; nil when nothing listens.
    private static func connectToOwnAgent(_ socketPath: String) throws(AgentError) -> Int32? {
        guard let fd = try AgentSocket.connect(socketPath) else { return nil }
        guard let peer = AgentSocket.peer(of: fd), peer.uid == geteuid() else {
            let uid = AgentSocket.peer(of: fd)?.uid ?? UInt32.max
            close(fd)
            throw .foreignPeer(uid: uid)
        }
        AgentSocket.setTimeouts(fd, seconds: 120)
        return fd
    }

    /// The vault path as the agent compares it: the directory resolved, the file name kept; a URL (a vault
    /// in a database) as written.
    package static func canonical(_ path: String) -> String {
        if VaultLocation.isURL(path) { return path }
        let directory = FileSystem.directory(of: path)
        let name = path.split(separator: "/").last.map(String.init) ?? path
        guard let resolved = realpath(directory, nil) else { return path }
        defer { free(resolved) }
        let base = String(cString: resolved)
        return (base == "/" ? "" : base) + "/" + name
    }

    // MARK: Requests

    /// Sends one request and decodes its answer; a failure the agent reports is `refused` (or
    /// `otherVault`). Requests on one client are sent one at a time.
    package func exchange<Request: AgentOperations>(_ request: Request) throws(AgentError) -> Request.Response {
        let payload: [UInt8]
        if let fast = request.fastEnvelope(vault: path) {
            payload = fast
        } else {
            payload = try AgentFrame.encode(AgentEnvelope(vault: path, request: request))
        }
        return try connection.withLock { (fd) throws(AgentError) -> Request.Response in
            guard fd >= 0 else { throw .connectionLost("closed") }
            do throws(AgentError) {
                try AgentFrame.write(payload, to: fd)
            } catch {
                // An agent over its connection limit answers "busy" at once and closes: that answer
                // waits in our receive buffer even though the request could not be sent.
                guard let early = try? AgentFrame.read(from: fd),
                    case .error(let failure) = try? AgentFrame.decode(AgentReply<Request.Response>.self, from: early)
                else { throw error }
                throw .refused(message: failure.message, category: failure.category)
            }
            guard let answer = try AgentFrame.read(from: fd) else {
                throw .connectionLost("the agent closed the connection")
            }
            if let response = Request.fastResponse(answer) { return response }
            switch try AgentFrame.decode(AgentReply<Request.Response>.self, from: answer) {
            case .ok(let response):
                return response
            case .error(let failure):
                if let other = failure.otherVault { throw .otherVault(other) }
                throw .refused(message: failure.message, category: failure.category)
            }
        }
    }

    /// Runs `body` with no receive time-out on this connection (for requests that take minutes).
    package func withoutTimeout<R>(_ body: () throws(AgentError) -> R) throws(AgentError) -> R {
        connection.withLock { fd in AgentSocket.setTimeouts(fd, seconds: 0) }
        defer { connection.withLock { fd in AgentSocket.setTimeouts(fd, seconds: 120) } }
        return try body()
    }

    func send(_ request: AgentRequest) throws(AgentError) -> AgentResponse {
        try exchange(request)
    }

    /// The agent's state and time left.
    public func status() throws(AgentError) -> AgentStatus {
        guard case .status(let status) = try send(.status) else { throw .protocolViolation("status without a status") }
        lastStatus.withLock { $0 = status }
        return status
    }

    /// Wipes the agent's keys and stops it.
    public func lock() throws(AgentError) {
        _ = try send(.lock)
    }

    /// Pushes the time-outs out: `ttl` and `idle` seconds from now.
    public func extend(ttl: Int64?, idle: Int64?) throws(AgentError) -> AgentStatus {
        guard case .status(let status) = try send(.extend(ttl: ttl, idle: idle)) else {
            throw .protocolViolation("extend without a status")
        }
        return status
    }

    // MARK: VaultStore

    public func versionedValue(for key: EntryKey) throws -> VersionedValue? {
        guard
            case .versioned(let encoded, let versionText) = try send(
                .getVersioned(kind: key.kind.rawValue, name: key.name))
        else { throw AgentError.protocolViolation("getVersioned without a value") }
        guard let encoded else { return nil }
        guard let versionText, case .version(let version) = WriteCondition(text: versionText) else {
            throw AgentError.protocolViolation("a value without a version")
        }
        guard var bytes = Base64URL.decode(encoded, original: true) else {
            throw AgentError.protocolViolation("a value that is not base64")
        }
        defer { Sodium.wipe(&bytes) }
        return VersionedValue(value: SecureBytes(copying: bytes), version: version)
    }

    public func value(for key: EntryKey) throws -> SecureBytes? {
        guard case .value(let encoded) = try send(.get(kind: key.kind.rawValue, name: key.name)) else {
            throw AgentError.protocolViolation("get without a value")
        }
        guard let encoded else { return nil }
        guard var bytes = Base64URL.decode(encoded, original: true) else {
            throw AgentError.protocolViolation("a value that is not base64")
        }
        defer { Sodium.wipe(&bytes) }
        return SecureBytes(copying: bytes)
    }

    public func names(of kind: EntryKind) throws -> [String] {
        var names: [String] = []
        var after: String? = nil
        while true {
            guard case .names(let page, let more) = try send(.names(kind: kind.rawValue, after: after)) else {
                throw AgentError.protocolViolation("names without names")
            }
            names += page
            guard more else { return names }
            guard let last = page.last, after.map({ EntryName.precedes($0, last) }) ?? true else {
                throw AgentError.protocolViolation("a page of names that does not move forward")
            }
            after = last
        }
    }

    public func contains(_ key: EntryKey) throws -> Bool {
        guard case .found(let found) = try send(.contains(kind: key.kind.rawValue, name: key.name)) else {
            throw AgentError.protocolViolation("contains without an answer")
        }
        return found
    }

    public func write(_ body: (inout VaultTransaction) throws -> Void) throws {
        var transaction = VaultTransaction()
        try body(&transaction)
        let changes = try transaction.records.map { record throws(AgentError) -> AgentRequest.Change in
            try transaction.arena.withBytes(record.slot) { (plaintext) throws(AgentError) -> AgentRequest.Change in
                guard let fields = RecordFrame.parse(plaintext) else {
                    throw .protocolViolation("unreadable pending record")
                }
                let value = record.operation == .put ? Base64URL.encode(plaintext[fields.value], original: true) : nil
                return AgentRequest.Change(
                    kind: record.key.kind.rawValue, name: record.key.name, value: value,
                    ifVersion: record.condition?.text)
            }
        }
        _ = try send(.write(changes: changes))
    }

    /// The tail the agent reported when this client connected (or now, when it has not asked yet).
    public func tail() throws -> TornTail? {
        if let status = lastStatus.withLock({ $0 }) { return status.tail }
        return try status().tail
    }

    public func compact() throws {
        _ = try send(.compact)
    }

    /// A vault file's entry lock is taken here, on the lock file, at the offset the agent computes (the
    /// offset needs the key). A database vault's is held by the agent for this process, on a connection of
    /// its own (`holdLock`) until `body` returns; if this process dies, the agent sees the connection
    /// close and lets the lock go.
    public func withEntryLock<R>(_ key: EntryKey, timeout: Duration, _ body: () async throws -> R) async throws -> R {
        guard VaultLocation.isURL(path) else {
            guard case .offset(let offset) = try send(.lockOffset(kind: key.kind.rawValue, name: key.name)) else {
                throw AgentError.protocolViolation("lock_offset without an offset")
            }
            return try await Vault.withEntryLock(vaultPath: path, offset: offset, key: key, timeout: timeout, body)
        }
        let holder = try await hold(key, timeout: timeout)
        // Let go at once, whatever `body` did (closing the connection would too, a moment later).
        defer { _ = try? holder.send(.releaseLock) }
        return try await body()
    }

    /// A second connection on which the agent holds the lock of `key` (closing it lets the lock go). The
    /// agent tries once per request; this waits between tries as the file lock does, without a thread.
    private func hold(_ key: EntryKey, timeout: Duration) async throws -> AgentClient {
        guard let fd = try Self.connectToOwnAgent(socketPath) else { throw AgentError.connectionLost("no agent") }
        let holder = AgentClient(path: path, socketPath: socketPath, fd: fd)
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: timeout)
        var pause = Duration.milliseconds(2)
        while true {
            guard case .found(let held) = try holder.send(.holdLock(kind: key.kind.rawValue, name: key.name)) else {
                throw AgentError.protocolViolation("hold_lock without an answer")
            }
            if held { return holder }
            if clock.now >= deadline { throw VaultError.entryLockTimeout(key) }
            try await Task.sleep(for: pause)
            pause = min(pause * 2, .milliseconds(50))
        }
    }
}
