import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Cross-process, cross-thread locks on single entries, for read-modify-write cycles that must not
/// overlap (an OAuth refresh: lock, re-read, refresh only if still needed, write, unlock).
///
/// A lock is an open-file-description (OFD) write lock on one byte of `<vault>.lock`, at an offset
/// derived from the entry's kind and name with a key of the vault, so the lock table (`/proc/locks`,
/// readable by every user) does not reveal which entry is being worked on. OFD locks are independent of
/// the `flock` that serialises writers, belong to one open file (two threads of one process exclude
/// each other) and are released by the kernel when the holder dies: a killed process never leaves an
/// entry locked. Two entries may share an offset (one chance in 2^20); they then merely wait for each other.
extension Vault {
    static let entryLockSlots: UInt64 = 1 << 20
    /// Lock offsets start far beyond any byte the lock file holds.
    static let entryLockBase: Int64 = 1 << 32

    /// Runs `body` while holding the lock of `key`, waiting (polling, without blocking a thread) for
    /// up to `timeout` to get it.
    ///
    /// - Throws: `VaultError.entryLockTimeout` when another holder kept it for the whole time-out;
    ///   `CancellationError` when the task is cancelled while waiting; whatever `body` throws.
    public func withEntryLock<R>(
        _ key: EntryKey, timeout: Duration = .seconds(60), _ body: () async throws -> R
    ) async throws -> R {
        try await Self.withEntryLock(
            vaultPath: path, offset: entryLockOffset(for: key), key: key, timeout: timeout, body)
    }

    /// The lock at `offset` in the lock file of the vault at `vaultPath` (an agent client asks the agent
    /// for the offset, which needs the key).
    static func withEntryLock<R>(
        vaultPath: String, offset: Int64, key: EntryKey, timeout: Duration, _ body: () async throws -> R
    ) async throws -> R {
        guard offset >= entryLockBase, offset < entryLockBase + Int64(entryLockSlots) else {
            throw AgentError.protocolViolation("entry lock offset out of range")
        }
        let file = try await lockEntry(vaultPath: vaultPath, offset: offset, key: key, timeout: timeout)
        defer { withExtendedLifetime(file) {} }
        return try await body()
    }

    private static func lockEntry(
        vaultPath: String, offset: Int64, key: EntryKey, timeout: Duration
    ) async throws -> PosixFile {
        let file = try FileSystem.openLockFile(Vault.lockPath(for: vaultPath))
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: timeout)
        var pause = Duration.milliseconds(2)
        while true {
            if try file.tryLockRange(offset: offset) { return file }
            if clock.now >= deadline { throw VaultError.entryLockTimeout(key) }
            try await Task.sleep(for: pause)
            pause = min(pause * 2, .milliseconds(50))
        }
    }

    package func entryLockOffset(for key: EntryKey) -> Int64 {
        let message = [key.kind.rawValue] + Array(key.name.utf8)
        let code = state.withLock { BLAKE2b.authenticationCode(for: message, using: $0.keys.entryLock) }
        let slot = code.prefix(8).reduce(UInt64(0)) { ($0 << 8) | UInt64($1) } % Vault.entryLockSlots
        return Vault.entryLockBase + Int64(slot)
    }
}

extension PosixFile {
    /// `F_OFD_SETLK` from <fcntl.h> (Linux 3.15 and later, the same value on every architecture);
    /// Glibc exports it to C only under `_GNU_SOURCE`.
    static let ofdSetLock: Int32 = 37

    /// A non-blocking OFD write lock on one byte; false when someone else holds it.
    func tryLockRange(offset: Int64) throws(VaultError) -> Bool {
        var request = flock()
        request.l_type = Int16(F_WRLCK)
        request.l_whence = Int16(SEEK_SET)
        request.l_start = off_t(offset)
        request.l_len = 1
        request.l_pid = 0
        while fcntl(descriptor, PosixFile.ofdSetLock, &request) != 0 {
            switch errno {
            case EINTR: continue
            case EAGAIN, EACCES: return false
            case let code: throw .io(operation: "lock entry in", path: path, errno: code)
            }
        }
        return true
    }
}

/// Entry locks for bulk work: one open lock file, many entries locked at once, each released when its
/// result is durable. Entries whose offsets coincide share the byte (counted here, so releasing one
/// does not release the other).
public final class EntryLockSet: Sendable {
    private let file: PosixFile
    private let vault: Vault
    private let held = Mutex<[Int64: Int]>([:])

    public init(vault: Vault) throws(VaultError) {
        self.vault = vault
        file = try FileSystem.openLockFile(Vault.lockPath(for: vault.path))
    }

    /// Locks `key` unless another process holds it; false then.
    public func tryLock(_ key: EntryKey) throws(VaultError) -> Bool {
        let offset = vault.entryLockOffset(for: key)
        return try held.withLock { (held) throws(VaultError) -> Bool in
            if let count = held[offset] {
                held[offset] = count + 1
                return true
            }
            guard try file.tryLockRange(offset: offset) else { return false }
            held[offset] = 1
            return true
        }
    }

    public func unlock(_ key: EntryKey) {
        let offset = vault.entryLockOffset(for: key)
        held.withLock { held in
            guard let count = held[offset] else { return }
            if count > 1 {
                held[offset] = count - 1
            } else {
                held[offset] = nil
                file.unlockRange(offset: offset)
            }
        }
    }
}

extension PosixFile {
    func unlockRange(offset: Int64) {
        var request = flock()
        request.l_type = Int16(F_UNLCK)
        request.l_whence = Int16(SEEK_SET)
        request.l_start = off_t(offset)
        request.l_len = 1
        _ = fcntl(descriptor, PosixFile.ofdSetLock, &request)
    }
}
