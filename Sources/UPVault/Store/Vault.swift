public import Logging
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// An open vault: an encrypted, append-only log of entries (secrets, apps, grants) in one file.
///
/// Every method is safe to call from any thread, and several processes may use the same file at
/// once: writers serialise on `flock` of the sidecar `<vault>.lock`, readers take it shared, and each
/// call first picks up what other processes appended or rewrote. A change returns only after its
/// bytes are on disk (`fdatasync`), so an acknowledged write survives a crash or a kill -9.
public final class Vault: Sendable {
    /// The vault file's path.
    public let path: String
    let logger: Logger
    let lockFile: PosixFile
    /// This vault's anchor file (`VaultAnchors`); nil when anchors are off.
    let anchorPath: String?
    let state: Mutex<State>
    private let lockWait = Mutex<Duration>(Vault.defaultLockTimeout)
    /// Bulk operations of this process running with automatic compaction deferred (`deferringCompaction`).
    /// Not part of `State`, which a reload or a rewrite rebuilds from the file. Changed and read with the
    /// state's lock held.
    let compactionDeferrals = Atomic<Int>(0)

    /// How long a call waits for another process holding the vault's lock before `lockTimeout`.
    public static let defaultLockTimeout = Duration.seconds(30)

    /// How long this handle's calls wait for the vault's lock (default `defaultLockTimeout`).
    public var lockTimeout: Duration {
        get { lockWait.withLock { $0 } }
        set { lockWait.withLock { $0 = newValue } }
    }

    /// A logger that discards everything: the library never configures logging itself.
    public static let silentLogger = Logger(label: "upvault", factory: { _ in SwiftLogNoOpLogHandler() })

    /// The lock file used for a vault at `path`.
    public static func lockPath(for path: String) -> String { path + ".lock" }

    struct State: Sendable {
        var file: PosixFile
        var fileIdentity: PosixFile.Identity
        var fileSize: Int
        var header: VaultHeader
        var keys: VaultKeys
        var committed: ChainPosition
        /// The bytes after `committed.offset`: the seal, or a torn tail.
        var knownTail: [UInt8]
        var tornTail: TornTail?
        var index: EntryIndex
        var scratch: SecureBox
        /// Scratch buffers for scanning (one per worker thread).
        var decryption: RecordDecryption
        var unusable = false
        /// The keys were wiped (`wipeKeys`): nothing can be read or written any more.
        var wiped = false

        var identity: LogIdentity { LogIdentity(vaultID: header.vaultID, generation: header.generation) }
        /// How far the history this state holds has got.
        var mark: ChainMark {
            ChainMark(generation: header.generation, count: committed.count, lastTag: committed.lastTag)
        }
        var deadRecordCount: Int { Int(committed.count) - index.count }
    }

    init(path: String, lockFile: PosixFile, state: consuming State, anchorPath: String?, logger: Logger) {
        self.path = path
        self.lockFile = lockFile
        self.anchorPath = anchorPath
        self.state = Mutex(state)
        self.logger = logger
        if let torn = self.state.withLock({ $0.tornTail }) {
            logger.warning("vault does not end in a seal", metadata: ["path": "\(path)", "tail": "\(torn)"])
        }
    }
}
