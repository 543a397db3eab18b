internal import CPosixShims

#if canImport(Glibc)
import Glibc
#endif

/// Where the agent listens, and the checks both sides make before trusting the socket.
public enum AgentSocket {
    /// `$UPVAULT_AGENT_SOCK`, else `$XDG_RUNTIME_DIR/upvault/agent.sock`, else
    /// `$XDG_STATE_HOME/upvault/agent.sock` (`~/.local/state/upvault/agent.sock`).
    public static func path(environment: [String: String]) -> String {
        if let explicit = environment["UPVAULT_AGENT_SOCK"], !explicit.isEmpty { return explicit }
        if let runtime = environment["XDG_RUNTIME_DIR"], runtime.hasPrefix("/") {
            return runtime + "/upvault/agent.sock"
        }
        if let state = environment["XDG_STATE_HOME"], state.hasPrefix("/") { return state + "/upvault/agent.sock" }
        let home = environment["HOME"] ?? "/"
        return home + "/.local/state/upvault/agent.sock"
    }

    static func directory(of path: String) -> String {
        FileSystem.directory(of: path)
    }

    /// The socket's directory must be a real directory (not a symlink), ours, and 0700. With `create`,
    /// a missing directory (and missing parents) is made 0700.
    package static func checkDirectory(of socketPath: String, create: Bool) throws(AgentError) {
        let directory = directory(of: socketPath)
        var info = stat()
        if lstat(directory, &info) != 0 {
            guard create, errno == ENOENT else {
                throw .insecureSocketDirectory(path: directory, reason: String(cString: strerror(errno)))
            }
            try makeDirectories(directory)
            guard lstat(directory, &info) == 0 else {
                throw .insecureSocketDirectory(path: directory, reason: String(cString: strerror(errno)))
            }
        }
        guard info.st_mode & S_IFMT == S_IFDIR else {
            throw .insecureSocketDirectory(path: directory, reason: "not a directory (or a symbolic link)")
        }
        guard info.st_uid == geteuid() else {
            throw .insecureSocketDirectory(path: directory, reason: "it belongs to uid \(info.st_uid)")
        }
        guard info.st_mode & 0o077 == 0 else {
            throw .insecureSocketDirectory(
                path: directory, reason: "mode \(String(info.st_mode & 0o777, radix: 8)), not 0700")
        }
    }

    private static func makeDirectories(_ directory: String) throws(AgentError) {
        var partial = ""
        for component in directory.split(separator: "/") {
            partial += "/" + component
            if mkdir(partial, 0o700) != 0 && errno != EEXIST {
                throw .insecureSocketDirectory(path: partial, reason: String(cString: strerror(errno)))
            }
        }
    }

    /// `sockaddr_un` for `path`.
    static func address(_ path: String) throws(AgentError) -> sockaddr_un {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard bytes.count < capacity else { throw .socketPathTooLong(path) }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        return address
    }

    /// A connection to the agent, or nil when none listens there (no socket, or a stale one).
    package static func connect(_ path: String) throws(AgentError) -> Int32? {
        var address = try address(path)
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw .connectionLost(String(cString: strerror(errno))) }
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        if result != 0 {
            let code = errno
            close(fd)
            if code == ENOENT || code == ECONNREFUSED || code == ENOTDIR { return nil }
            throw .connectionLost(String(cString: strerror(code)))
        }
        return fd
    }

    /// The uid and pid at the other end of a connected socket.
    package static func peer(of fd: Int32) -> (uid: UInt32, pid: Int32)? {
        var uid: UInt32 = 0
        var pid: Int32 = 0
        guard upv_peer_credentials(fd, &uid, &pid) == 0 else { return nil }
        return (uid, pid)
    }

    /// Sets send and receive time-outs on a socket.
    package static func setTimeouts(_ fd: Int32, seconds: Int) {
        var value = timeval(tv_sec: seconds, tv_usec: 0)
        _ = setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &value, socklen_t(MemoryLayout<timeval>.size))
        _ = setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &value, socklen_t(MemoryLayout<timeval>.size))
    }
}

extension AgentSocket {
    /// Binds and listens on `path` (the directory already checked), under umask 0177 so the socket is
    /// never reachable by others, not even for an instant. Replaces whatever sits at the path: the
    /// caller holds the agent lock, so anything there is a stale socket left by a killed agent.
    package static func listen(_ path: String, backlog: Int32 = 128) throws(AgentError) -> Int32 {
        var address = try address(path)
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw .startFailed(String(cString: strerror(errno))) }
        var info = stat()
        if lstat(path, &info) == 0 {
            guard info.st_mode & S_IFMT == S_IFSOCK else {
                close(fd)
                throw .startFailed("\(path) exists and is not a socket")
            }
            unlink(path)
        }
        let previous = umask(0o177)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        umask(previous)
        guard bound == 0, Glibc.listen(fd, backlog) == 0 else {
            let reason = String(cString: strerror(errno))
            close(fd)
            throw .startFailed("cannot listen on \(path): \(reason)")
        }
        return fd
    }

    /// The agent's single-instance lock, `agent.lock` beside the socket, held for the agent's life:
    /// nil when another agent holds it.
    package static func takeInstanceLock(for socketPath: String) throws(AgentError) -> Int32? {
        let lockPath = socketPath + ".lock"
        let fd = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { throw .startFailed("cannot open \(lockPath): \(String(cString: strerror(errno)))") }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            close(fd)
            return nil
        }
        return fd
    }
}
