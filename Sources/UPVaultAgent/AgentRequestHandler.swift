import Dispatch
import FoundationEssentials
public import Logging
import Synchronization
public import UPVault
public import UPVaultOAuth

#if canImport(Glibc)
import Glibc
#endif

/// One decoded request: a storage or session operation, or an OAuth one.
package enum AgentCall: Sendable, Equatable {
    case vault(AgentRequest)
    case oauth(OAuthAgentRequest)
}

/// The agent's request handling, apart from its socket: decodes a frame once, checks the vault it
/// names, performs the operation on the unlocked vault (or through the OAuth flows), and encodes the
/// answer. It also keeps the time-outs, on a clock the caller injects, so tests advance time instead
/// of sleeping. Safe to call from many connection threads at once.
public final class AgentRequestHandler: Sendable {
    struct Deadlines {
        var absolute: Int64
        var idle: Int64
        var idleSeconds: Int64
    }

    private let vault: Mutex<(any KeyedVaultStore)?>
    private let oauth: OAuthClient
    /// The vault path as clients send it (canonical).
    public let vaultPath: String
    private let deadlines: Mutex<Deadlines>
    private let now: @Sendable () -> Int64
    private let logger: Logger
    /// Requests being handled: the idle time-out does not run out under a long one (a bulk refresh).
    private let busy = Atomic<Int>(0)
    private let stopping = Atomic<Bool>(false)
    /// Run on `lock` before the keys are wiped and the answer sent (the server removes its socket and
    /// lets a new agent start).
    private let lockHook = Mutex<(@Sendable () -> Void)?>(nil)

    /// - Parameters:
    ///   - vault: the unlocked vault, a file (`Vault`) or a database vault (UPVaultPostgres).
    ///   - oauth: the flows `token`, `bulk_refresh` and `campaign` run through (on `vault`).
    ///   - now: Unix seconds; the time-outs are measured on it.
    public init(
        vault: any KeyedVaultStore, oauth: OAuthClient, ttl: Duration, idle: Duration,
        logger: Logger = Vault.silentLogger,
        now: (@Sendable () -> Int64)? = nil
    ) {
        self.vault = Mutex(vault)
        self.oauth = oauth
        vaultPath = AgentClient.canonical(vault.path)
        let now = now ?? { Int64(time(nil)) }
        self.now = now
        self.logger = logger
        let start = now()
        deadlines = Mutex(
            Deadlines(
                absolute: Self.adding(ttl.components.seconds, to: start),
                idle: Self.adding(idle.components.seconds, to: start), idleSeconds: idle.components.seconds))
    }

    /// True once the agent must stop: locked on request, or its key no longer opens the vault.
    public var isStopping: Bool { stopping.load(ordering: .relaxed) }

    /// Why the agent must lock now (`ttl`, `idle`, `locked`), or nil.
    public func expiry() -> String? {
        if isStopping { return "locked" }
        let now = now()
        return deadlines.withLock { deadlines in
            if now >= deadlines.absolute { return "ttl" }
            if now >= deadlines.idle && busy.load(ordering: .relaxed) == 0 { return "idle" }
            return nil
        }
    }

    /// The agent's state and deadlines.
    public func status() -> AgentStatus {
        let (absolute, idle) = deadlines.withLock { ($0.absolute, $0.idle) }
        let tail = vault.withLock { vault in try? vault?.tail() } ?? nil
        return AgentStatus(vault: vaultPath, pid: getpid(), expiresAt: absolute, idleExpiresAt: idle, tail: tail)
    }

    /// Stops serving and drops the vault: its keys (and every decrypted buffer it holds) are zeroed.
    public func wipe() {
        stopping.store(true, ordering: .relaxed)
        vault.withLock { vault in
            vault?.wipeKeys()
            vault = nil
        }
    }

    /// Sets what runs on `lock` before the keys are wiped.
    public func onLock(_ hook: @escaping @Sendable () -> Void) {
        lockHook.withLock { $0 = hook }
    }

    // MARK: Frames

    /// The answer to one frame, or nil when the frame is not a request (the connection is then closed).
    /// `connection` keeps what outlives the request (an entry lock held for the client); without it,
    /// `hold_lock` is refused.
    public func answer(_ frame: [UInt8], on connection: AgentConnection? = nil) -> [UInt8]? {
        guard let (path, call) = Self.decode(frame) else { return nil }
        let reply: any Encodable
        switch call {
        case .vault(let request): reply = handle(request, vault: path, connection: connection)
        case .oauth(let request): reply = handle(request, vault: path)
        }
        return try? AgentFrame.encode(reply)
    }

    /// Decodes `{"vault": PATH, "request"|"oauth": OPERATION}`: exactly one operation.
    package static func decode(_ frame: [UInt8]) -> (vault: String, call: AgentCall)? {
        guard let envelope = try? JSONDecoder().decode(CallEnvelope.self, from: Data(frame)) else { return nil }
        return (envelope.vault, envelope.call)
    }

    struct CallEnvelope: Decodable {
        var vault: String
        var call: AgentCall

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: AgentEnvelopeKey.self)
            let operations = container.allKeys.filter { $0.stringValue != "vault" }
            guard operations.count == 1 else {
                throw DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: "one operation per frame"))
            }
            vault = try container.decode(String.self, forKey: AgentEnvelopeKey("vault"))
            switch operations[0].stringValue {
            case AgentRequest.envelopeKey: call = .vault(try container.decode(AgentRequest.self, forKey: operations[0]))
            case OAuthAgentRequest.envelopeKey:
                call = .oauth(try container.decode(OAuthAgentRequest.self, forKey: operations[0]))
            default: throw DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: "unknown operation set"))
            }
        }
    }

    // MARK: Requests

    /// Performs a storage or session request for the vault at `path`.
    package func handle(
        _ request: AgentRequest, vault path: String, connection: AgentConnection? = nil
    ) -> AgentReply<AgentResponse> {
        perform(vault: path, touches: request != .status) { vault throws -> AgentResponse in
            try self.perform(request, on: vault, connection: connection)
        }
    }

    /// Lets go of what the agent held for a connection that ended (its client closed it, or died).
    public func closed(_ connection: AgentConnection) {
        release(connection)
    }

    private func release(_ connection: AgentConnection) {
        guard let hold = connection.hold.withLock({ hold in hold.take() }) else { return }
        hold.release()
        busy.wrappingSubtract(1, ordering: .relaxed)
        touch()
    }

    /// Performs an OAuth request for the vault at `path`.
    package func handle(_ request: OAuthAgentRequest, vault path: String) -> AgentReply<OAuthAgentResponse> {
        perform(vault: path, touches: true) { vault throws -> OAuthAgentResponse in
            switch request {
            case .token(let app, let user, let minValid, let force):
                // A client that named neither app nor user leaves the choice to the vault (one round trip).
                let (app, user) = try GrantSelector(app: app, user: user).grant(in: vault)
                let margin = Duration.seconds(max(0, minValid))
                // A valid token (the common case) is answered on this thread, with no hop to a task.
                if !force, let token = try oauth.freshAccessToken(app: app, user: user, minimumValidity: margin) {
                    return .token(token)
                }
                return .token(
                    try Self.wait { [oauth] in
                        if force { return try await oauth.refresh(app: app, user: user).accessToken }
                        return try await oauth.accessToken(app: app, user: user, minimumValidity: margin)
                    })
            case .bulkRefresh(let options, let resume, let dryRun):
                return .report(
                    try Self.wait { [oauth] in try await oauth.bulkRefresh(options, resume: resume, dryRun: dryRun) })
            case .campaign(let options, let resume, let worker, let leaseSeconds):
                guard let campaigns = vault as? any CampaignStore else { throw BulkRefreshError.noCampaigns }
                let worker = CampaignWorker(name: worker, lease: .seconds(min(max(leaseSeconds, 1), 3600)))
                return .campaign(
                    try Self.wait { [oauth] in
                        try await oauth.campaignRefresh(in: campaigns, options, resume: resume, worker: worker)
                    })
            case .campaignStatus:
                guard let campaigns = vault as? any CampaignStore else { throw BulkRefreshError.noCampaigns }
                return .campaign(try campaigns.campaignStatus(nil))
            }
        }
    }

    /// The checks and bookkeeping every request shares: the vault named, the idle deadline, the
    /// failure's category.
    private func perform<Response>(
        vault path: String, touches: Bool, _ body: (any KeyedVaultStore) throws -> Response
    ) -> AgentReply<Response> {
        // Clients send the canonical path already; resolve only what does not match as sent.
        guard path == vaultPath || AgentClient.canonical(path) == vaultPath else {
            return .error(
                AgentFailure(category: .failure, message: "the agent serves another vault", otherVault: vaultPath))
        }
        if touches {
            busy.wrappingAdd(1, ordering: .relaxed)
            touch()
        }
        defer {
            if touches {
                touch()
                busy.wrappingSubtract(1, ordering: .relaxed)
            }
        }
        guard let vault = vault.withLock({ $0 }), !isStopping else {
            return .error(AgentFailure(category: .locked, message: "the agent is locking"))
        }
        do {
            return .ok(try body(vault))
        } catch let error as RequestError {
            return .error(AgentFailure(category: .usage, message: error.message))
        } catch {
            if case VaultError.rekeyedElsewhere = error {
                // Our key no longer opens the vault: lock, so clients fall back to the passphrase.
                stopping.store(true, ordering: .relaxed)
            }
            let message = (error as Any as? any CustomStringConvertible)?.description ?? "\(type(of: error))"
            return .error(AgentFailure(category: FailureCategory(of: error), message: message))
        }
    }

    private func touch() {
        let now = now()
        deadlines.withLock { $0.idle = Self.adding($0.idleSeconds, to: now) }
    }

    /// How many bytes of JSON one page of names may take: an answer frame holds 2 MiB.
    static let namesPageByteBudget = 1 << 20

    /// The names after `after` (in `EntryName.precedes` order) that fit in one answer, and whether more follow.
    static func page(of sorted: [String], after: String?, budget: Int = namesPageByteBudget) -> AgentResponse {
        var start = sorted.startIndex
        if let after {
            var low = sorted.startIndex
            var high = sorted.endIndex
            while low < high {
                let middle = (low + high) / 2
                if !EntryName.precedes(after, sorted[middle]) { low = middle + 1 } else { high = middle }
            }
            start = low
        }
        var end = start
        var used = 0
        while end < sorted.endIndex {
            // Quotes and a comma, and every byte as a six-byte \u escape at worst.
            let cost = 3 + sorted[end].utf8.count * 6
            if used + cost > budget && end > start { break }
            used += cost
            end += 1
        }
        return .names(Array(sorted[start..<end]), more: end < sorted.endIndex)
    }

    private func perform(
        _ request: AgentRequest, on vault: any KeyedVaultStore, connection: AgentConnection?
    ) throws -> AgentResponse {
        switch request {
        case .status:
            return .status(status())
        case .get(let kind, let name):
            guard let value = try vault.value(for: try Self.key(kind, name)) else { return .value(base64: nil) }
            return .value(base64: value.withUnsafeBytes { Base64URL.encode($0, original: true) })
        case .getVersioned(let kind, let name):
            guard let versioned = try vault.versionedValue(for: try Self.key(kind, name)) else {
                return .versioned(base64: nil, version: nil)
            }
            return .versioned(
                base64: versioned.value.withUnsafeBytes { Base64URL.encode($0, original: true) },
                version: versioned.version.description)
        case .names(let kind, let after):
            guard let kind = EntryKind(rawValue: kind) else { throw RequestError("unknown kind") }
            return Self.page(of: try vault.names(of: kind), after: after)
        case .contains(let kind, let name):
            return .found(try vault.contains(try Self.key(kind, name)))
        case .write(let changes):
            try vault.write { transaction in
                for change in changes {
                    let key = try Self.key(change.kind, change.name)
                    var condition: WriteCondition? = nil
                    if let text = change.ifVersion {
                        guard let parsed = WriteCondition(text: text) else { throw RequestError("bad if_version") }
                        condition = parsed
                    }
                    if let encoded = change.value {
                        guard var bytes = Base64URL.decode(encoded, original: true) else {
                            throw RequestError("value is not base64")
                        }
                        let value = SecureBytes(copying: bytes)
                        Sodium.wipe(&bytes)
                        try transaction.apply(key, value: value, condition: condition)
                    } else {
                        try transaction.apply(key, value: nil, condition: condition)
                    }
                }
            }
            return .done
        case .lockOffset(let kind, let name):
            guard let file = vault as? Vault else {
                throw RequestError("this vault's entry locks are held by the agent (hold_lock)")
            }
            return .offset(file.entryLockOffset(for: try Self.key(kind, name)))
        case .holdLock(let kind, let name):
            guard let connection else { throw RequestError("hold_lock needs a connection of its own") }
            guard !connection.holdsLock else { throw RequestError("this connection already holds a lock") }
            guard let hold = try EntryLockHold.take(try Self.key(kind, name), in: vault) else { return .found(false) }
            connection.hold.withLock { $0 = hold }
            // Held for a client that is working: the idle time-out waits for it.
            busy.wrappingAdd(1, ordering: .relaxed)
            return .found(true)
        case .releaseLock:
            if let connection { release(connection) }
            return .done
        case .compact:
            try vault.compact()
            return .done
        case .lock:
            // Gone before the answer: the socket first (no new client reaches us), then the keys.
            stopping.store(true, ordering: .relaxed)
            lockHook.withLock { $0 }?()
            wipe()
            return .done
        case .extend(let ttl, let idle):
            // The absolute time-out is the passphrase's word: any process of the user may shorten it,
            // only `unlock` with the passphrase (a new agent) may push it out.
            let now = now()
            try deadlines.withLock { deadlines in
                if let ttl {
                    let absolute = Self.adding(ttl, to: now)
                    guard absolute <= deadlines.absolute else { throw RequestError.extensionNeedsPassphrase }
                    deadlines.absolute = absolute
                }
                if let idle { deadlines.idleSeconds = max(0, idle) }
                deadlines.idle = Self.adding(deadlines.idleSeconds, to: now)
            }
            return .status(status())
        }
    }

    static func key(_ kind: UInt8, _ name: String) throws -> EntryKey {
        guard let kind = EntryKind(rawValue: kind) else { throw RequestError("unknown kind") }
        return EntryKey(kind, name)
    }

    /// `start + seconds`, saturating (a request may carry any number).
    static func adding(_ seconds: Int64, to start: Int64) -> Int64 {
        let (sum, overflow) = start.addingReportingOverflow(max(0, seconds))
        return overflow ? Int64.max : sum
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

/// A request that names no such thing (an unknown kind, a value that is not base64).
struct RequestError: Error {
    var message: String
    init(_ message: String) { self.message = message }

    static let extensionNeedsPassphrase = RequestError(
        "the agent's absolute time-out can only be pushed out with the passphrase ('upvault unlock --extend')")
}
