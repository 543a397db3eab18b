public import Logging
import Synchronization
public import UPVault

#if canImport(Glibc)
import Glibc
#endif

/// The agent's socket: serves an `AgentRequestHandler` to processes of the same user on a Unix-domain
/// socket. Each connection's peer uid must be ours (SO_PEERCRED); a frame that is too large or not a
/// request closes that connection only. It stops (the handler wipes the keys) on `lock`, on the
/// handler's time-outs, on SIGTERM/SIGINT, and when the vault was re-keyed.
public final class AgentServer: Sendable {
    private let handler: AgentRequestHandler
    private let socketPath: String
    private let logger: Logger
    private let connections = Atomic<Int>(0)
    private let threads = ConnectionThreads()
    /// Requests read and not yet answered: the server waits for them before it returns (and the process
    /// exits), so the answer to `lock` reaches its client.
    private let answering = Atomic<Int>(0)
    private let socketIdentity = Mutex<(device: UInt64, inode: UInt64)?>(nil)
    private let instanceLock = Mutex<Int32?>(nil)
    /// At most this many connections are served at once; more are answered "busy" and closed.
    public static let maximumConnections = 256

    private let connectionLimit: Int
    private let frameDeadline: Duration

    static let signalled = Atomic<Bool>(false)

    /// - Parameters:
    ///   - maximumConnections: connections served at once; more are answered "busy" and closed.
    ///   - frameDeadline: how long a frame may take to arrive once its first byte has.
    public init(
        handler: AgentRequestHandler, socketPath: String, maximumConnections: Int = AgentServer.maximumConnections,
        frameDeadline: Duration = .seconds(10), logger: Logger = Vault.silentLogger
    ) {
        self.handler = handler
        self.socketPath = socketPath
        connectionLimit = maximumConnections
        self.frameDeadline = frameDeadline
        self.logger = logger
    }

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
        handler.onLock { [self] in
            removeSocket()
            releaseInstanceLock()
        }
        signal(SIGPIPE, SIG_IGN)
        signal(SIGTERM) { _ in AgentServer.signalled.store(true, ordering: .relaxed) }
        signal(SIGINT) { _ in AgentServer.signalled.store(true, ordering: .relaxed) }
        signal(SIGHUP, SIG_IGN)
        ready()
        logger.info("agent listening", metadata: ["socket": "\(socketPath)"])

        while !Self.signalled.load(ordering: .relaxed) {
            if let reason = handler.expiry() {
                logger.info("agent locking", metadata: ["reason": "\(reason)"])
                break
            }
            var poller = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
            guard poll(&poller, 1, 100) > 0 else { continue }
            let connection = accept(listener, nil, nil)
            guard connection >= 0 else { continue }
            _ = fcntl(connection, F_SETFD, FD_CLOEXEC)
            guard let peer = AgentSocket.peer(of: connection), peer.uid == geteuid() else {
                logger.warning("refused a connection from another user")
                close(connection)
                continue
            }
            guard connections.wrappingAdd(1, ordering: .relaxed).newValue <= connectionLimit else {
                connections.wrappingSubtract(1, ordering: .relaxed)
                Self.refuseAsBusy(connection)
                continue
            }
            threads.run { [self] in
                serve(connection)
                connections.wrappingSubtract(1, ordering: .relaxed)
            }
        }
        removeSocket()
        close(listener)
        let clock = ContinuousClock()
        let patience = clock.now.advanced(by: .seconds(5))
        while answering.load(ordering: .acquiring) > 0 && clock.now < patience { usleep(1000) }
        handler.wipe()
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

    private func serve(_ fd: Int32) {
        let connection = AgentConnection()
        defer {
            handler.closed(connection)
            close(fd)
        }
        AgentSocket.setTimeouts(fd, seconds: 30)
        while !handler.isStopping {
            let frame: [UInt8]
            do {
                guard let payload = try AgentFrame.read(from: fd, deadline: frameDeadline) else { return }
                frame = payload
            } catch {
                logger.debug("closing a connection", metadata: ["reason": "\(error)"])
                return
            }
            answering.wrappingAdd(1, ordering: .acquiringAndReleasing)
            defer { answering.wrappingSubtract(1, ordering: .releasing) }
            guard let answer = handler.answer(frame, on: connection) else {
                logger.debug("closing a connection: not a request")
                return
            }
            guard (try? AgentFrame.write(answer, to: fd)) != nil else { return }
            // A client holding an entry lock is busy with the entry: its connection waits as long as it works.
            AgentSocket.setTimeouts(fd, seconds: connection.holdsLock ? 0 : 30)
        }
    }

    /// Tells a client over the connection limit to try again, instead of closing on it without a word.
    static func refuseAsBusy(_ fd: Int32) {
        AgentSocket.setTimeouts(fd, seconds: 1)
        let failure = AgentFailure(category: .busy, message: "the agent is busy (too many connections); try again")
        if let answer = try? AgentFrame.encode(AgentReply<AgentResponse>.error(failure)) {
            try? AgentFrame.write(answer, to: fd)
        }
        close(fd)
    }
}
