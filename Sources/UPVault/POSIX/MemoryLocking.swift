#if canImport(Glibc)
import Glibc
#endif

/// Whether this process can keep secrets out of swap. `sodium_malloc` locks every secure allocation
/// with `mlock`, but carries on silently when that fails (`ulimit -l 0`, a container without
/// CAP_IPC_LOCK and a low RLIMIT_MEMLOCK): probing says so up front, so that a long-lived holder of
/// keys (the agent) can refuse to run with them swappable, or warn.
public enum MemoryLocking {
    public enum Status: Sendable, Equatable {
        /// `byteCount` bytes could be locked.
        case lockable
        /// They could not: why (errno), and the soft RLIMIT_MEMLOCK in bytes (nil: unlimited).
        case notLockable(errno: Int32, limit: UInt64?)
    }

    /// Tries to `mlock` `byteCount` bytes of fresh memory and unlocks them again.
    public static func probe(byteCount: Int = 1 << 16) -> Status {
        let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))
        let count = max(pageSize, (byteCount + pageSize - 1) / pageSize * pageSize)
        var memory: UnsafeMutableRawPointer?
        guard posix_memalign(&memory, pageSize, count) == 0, let memory else {
            return .notLockable(errno: ENOMEM, limit: limit())
        }
        defer { free(memory) }
        do {
            try syscall { mlock(memory, count) }
        } catch {
            return .notLockable(errno: error.code, limit: limit())
        }
        munlock(memory, count)
        return .lockable
    }

    /// The soft RLIMIT_MEMLOCK, nil when unlimited.
    static func limit() -> UInt64? {
        var limits = rlimit()
        guard getrlimit(__rlimit_resource_t(__RLIMIT_MEMLOCK.rawValue), &limits) == 0, limits.rlim_cur != rlim_t.max
        else { return nil }
        return UInt64(limits.rlim_cur)
    }

    /// One line for the user.
    public static func describe(_ status: Status) -> String {
        switch status {
        case .lockable: "memory can be locked"
        case .notLockable(let code, let limit):
            "memory cannot be locked (\(Errno.describe(code))"
                + (limit.map { "; the locked-memory limit, ulimit -l, is \($0 / 1024) KiB" } ?? "")
                + "): keys could be written to swap"
        }
    }
}
