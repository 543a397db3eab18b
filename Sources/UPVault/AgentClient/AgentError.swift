/// What can go wrong between a client and the agent. Messages never carry values.
public enum AgentError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The socket's directory is not a directory of ours with mode 0700 (or is a symlink).
    case insecureSocketDirectory(path: String, reason: String)
    /// The socket path does not fit in a Unix-domain socket address (108 bytes).
    case socketPathTooLong(String)
    /// The process at the other end of the socket is not ours.
    case foreignPeer(uid: UInt32)
    /// The connection failed, or closed before a whole answer arrived.
    case connectionLost(String)
    /// A frame broke the protocol (too large, not the expected JSON).
    case protocolViolation(String)
    /// The agent serves another vault file.
    case otherVault(String)
    /// The agent could not do what was asked; `category` says what kind of failure it was.
    case refused(message: String, category: FailureCategory)
    /// An agent is already running for this socket.
    case alreadyRunning(String)
    /// The agent did not start or did not report ready.
    case startFailed(String)
    /// The agent's memory cannot be locked, so its keys could be swapped out; it refuses to run unless
    /// allowed to (`--allow-unlocked-memory`).
    case memoryNotLockable(MemoryLocking.Status)

    public var description: String {
        switch self {
        case .insecureSocketDirectory(let path, let reason): "refusing agent socket directory \(path): \(reason)"
        case .socketPathTooLong(let path): "agent socket path too long: \(path)"
        case .foreignPeer(let uid): "the agent socket is served by uid \(uid), not by us"
        case .connectionLost(let reason): "lost the connection to the agent: \(reason)"
        case .protocolViolation(let reason): "agent protocol violation: \(reason)"
        case .otherVault(let path): "the agent serves another vault (\(path))"
        case .refused(let message, _): message
        case .alreadyRunning(let socket): "an agent is already running on \(socket)"
        case .startFailed(let reason): "the agent did not start: \(reason)"
        case .memoryNotLockable(let status):
            "refusing to start the agent: \(MemoryLocking.describe(status)); raise the limit "
                + "(ulimit -l, LimitMEMLOCK=) or pass --allow-unlocked-memory"
        }
    }
}
