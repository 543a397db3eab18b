import CPosixShims
public import UPVault

#if canImport(Glibc)
import Glibc
#endif

/// Starting the agent from `upvault unlock`, and the agent's side of the hand-over. The master key
/// goes through a pipe that only the two processes hold (fd 3 in the agent), never argv or the
/// environment; the agent reports readiness (`R`) or its error (`E message`) on fd 4.
public enum AgentLauncher {
    public static let keyDescriptor: Int32 = 3
    public static let readyDescriptor: Int32 = 4
    /// glibc's POSIX_SPAWN_SETSID (the constant is only visible to C under _GNU_SOURCE).
    static let spawnSetSID: Int16 = 0x80

    /// Spawns `executable` with `arguments` in a new session (no terminal, stdio on /dev/null), hands it
    /// the vault's master key, and waits up to `timeout` for it to open the vault and listen. Returns the
    /// agent's pid. When the agent cannot open the vault, its error comes back with its category
    /// (`AgentError.refused`): a damaged vault is an integrity error here too.
    public static func start(
        key: borrowing VaultKey, executable: String, arguments: [String], environment: [String: String],
        timeout: Duration
    ) throws(AgentError) -> Int32 {
        var keyPipe: [Int32] = [-1, -1]
        var readyPipe: [Int32] = [-1, -1]
        guard pipe(&keyPipe) == 0, pipe(&readyPipe) == 0 else { throw .startFailed(String(cString: strerror(errno))) }
        for fd in keyPipe + readyPipe { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        // dup2 onto the same number would keep close-on-exec set: move low descriptors out of the way.
        let keyRead = fcntl(keyPipe[0], F_DUPFD_CLOEXEC, 10)
        let readyWrite = fcntl(readyPipe[1], F_DUPFD_CLOEXEC, 10)
        close(keyPipe[0])
        close(readyPipe[1])
        defer {
            close(keyPipe[1])
            close(readyPipe[0])
        }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, keyRead, keyDescriptor)
        posix_spawn_file_actions_adddup2(&actions, readyWrite, readyDescriptor)
        // Nothing else crosses over: not the vault's files, not a parent's pipes or sockets (a test
        // harness that waits for its child's descriptors to close would otherwise wait for the agent).
        _ = withUnsafeMutablePointer(to: &actions) { upv_spawn_close_from($0, readyDescriptor + 1) }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        posix_spawnattr_setflags(&attributes, spawnSetSID)

        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for pointer in argv { free(pointer) }
            for pointer in envp { free(pointer) }
        }
        var pid: pid_t = 0
        let status = posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
        close(keyRead)
        close(readyWrite)
        guard status == 0 else { throw .startFailed("cannot run \(executable): \(String(cString: strerror(status)))") }

        let written = key.withBytes { key in Glibc.write(keyPipe[1], key.baseAddress, key.count) }
        guard written == 32 else { throw .startFailed("could not hand the key over") }
        close(keyPipe[1])
        keyPipe[1] = -1

        var poller = pollfd(fd: readyPipe[0], events: Int16(POLLIN), revents: 0)
        let milliseconds = Int32(min(timeout.components.seconds * 1000, Int64(Int32.max)))
        guard poll(&poller, 1, milliseconds) > 0 else {
            kill(pid, SIGTERM)
            throw .startFailed("no answer within \(timeout)")
        }
        var reply = [UInt8](repeating: 0, count: 512)
        let count = Glibc.read(readyPipe[0], &reply, reply.count)
        let text = count > 0 ? String(decoding: reply.prefix(count), as: UTF8.self) : ""
        guard text.hasPrefix("R") else {
            var ignored: Int32 = 0
            waitpid(pid, &ignored, WNOHANG)
            if text.hasPrefix("E ") {
                let report = String(text.dropFirst(2)).trimmingCharacters(in: ["\n"])
                let parts = report.split(separator: " ", maxSplits: 1)
                if parts.count == 2, let category = FailureCategory(rawValue: String(parts[0])) {
                    throw .refused(message: String(parts[1]), category: category)
                }
                throw .startFailed(report)
            }
            throw .startFailed("it exited before it was ready")
        }
        return pid
    }

    /// The agent's side: the 32-byte master key from `fd`, read straight into secure memory.
    public static func receiveMasterKey(from fd: Int32 = keyDescriptor) throws(AgentError) -> SecureBytes {
        var key = SecureBytes(count: 32)
        let complete = key.withUnsafeMutableBytes { buffer -> Bool in
            var offset = 0
            while offset < buffer.count {
                let count = Glibc.read(fd, buffer.baseAddress! + offset, buffer.count - offset)
                if count < 0 && errno == EINTR { continue }
                if count <= 0 { return false }
                offset += count
            }
            return true
        }
        close(fd)
        guard complete else { throw .startFailed("no key on descriptor \(fd)") }
        return key
    }

    /// The agent's side: why it could not start, as `E <category> <message>` (what `start` throws).
    public static func reportFailure(_ error: any Error) {
        let message = (error as Any as? any CustomStringConvertible)?.description ?? "cannot open the vault"
        report("E \(FailureCategory(of: error).rawValue) " + message)
    }

    /// The agent's side: one line for `unlock` on the readiness descriptor, which is then closed.
    public static func report(_ line: String, to fd: Int32 = readyDescriptor) {
        let bytes = Array((line + "\n").utf8)
        _ = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        close(fd)
    }
}

extension String {
    fileprivate func trimmingCharacters(in set: Set<Character>) -> String {
        var text = Substring(self)
        while let last = text.last, set.contains(last) { text = text.dropLast() }
        return String(text)
    }
}
