public import Logging
import PostgresNIO
import Synchronization
public import UPVault

/// A vault kept in PostgreSQL, for apps on many machines: the same entries, key slots and guarantees as
/// a vault file, one row per entry (Vault/ROWS.md is the normative layout).
///
/// The database never sees a key, a name or a value: each row holds a keyed hash of its entry's name, a
/// version, a nonce and the XChaCha20-Poly1305 ciphertext whose associated data binds the vault, the
/// kind, the name hash and the version. Every write runs in one transaction; a conditional write
/// (`VaultTransaction.put(_:value:ifVersion:)`) is compare-and-set on the row's version; entry locks are
/// PostgreSQL advisory locks held on a connection of their own, released by the server when the holder's
/// connection ends (a killed process never leaves an entry locked). A handle never accepts a row older
/// than one it has seen.
///
/// Every method is safe to call from any thread; calls block until the server answers.
public final class PostgresVault: KeyedVaultStore {
    /// The vault's URL, without any password (what messages show).
    public let path: String
    public let location: PostgresLocation
    let session: PostgresSession
    let schema: PostgresSchema
    let logger: Logger
    let state: Mutex<State>

    struct State: ~Copyable {
        var header: RowHeader
        var headerBytes: [UInt8]
        var keys: RowKeys
        /// The lowest version this handle still accepts for each row it has read or written (one more than
        /// a deleted row's version): a row older than that was put back from a copy.
        var seen: [RowName: Int64] = [:]
        var scratch = SecureBytes(count: 4096)
        var wiped = false
    }

    init(location: PostgresLocation, session: PostgresSession, state: consuming State, logger: Logger) {
        self.location = location
        self.path = location.description
        self.session = session
        self.schema = PostgresSchema(name: location.schema)
        self.logger = logger
        self.state = Mutex(state)
    }

    /// Zeroes this handle's keys now (the agent locking); every later call fails with `handleUnusable`.
    public func wipeKeys() {
        state.withLock { state in
            state.wiped = true
            state.keys = RowKeys.wiped()
            state.scratch = SecureBytes(count: 0)
        }
    }

    /// This vault's master key, for handing to the agent.
    package func vaultKey() throws(VaultError) -> VaultKey {
        try state.withLock { (state) throws(VaultError) -> VaultKey in
            guard !state.wiped else { throw .handleUnusable }
            return state.keys.vaultKey()
        }
    }

    /// The version and keys this handle works with, checked to be usable.
    func current() throws(VaultError) -> (vaultID: [UInt8], keys: RowKeys) {
        try state.withLock { (state) throws(VaultError) -> ([UInt8], RowKeys) in
            guard !state.wiped else { throw .handleUnusable }
            return (state.header.vaultID, state.keys)
        }
    }

    /// A database vault has no torn tail: a transaction is committed whole or not at all.
    public func tail() throws -> TornTail? { nil }
}

/// A row's name hash as a dictionary key (no allocation per entry).
struct RowName: Hashable, Sendable {
    var words: (UInt64, UInt64, UInt64, UInt64)

    init(_ bytes: [UInt8]) {
        precondition(bytes.count == 32)
        words = bytes.withUnsafeBytes {
            (
                $0.loadUnaligned(fromByteOffset: 0, as: UInt64.self),
                $0.loadUnaligned(fromByteOffset: 8, as: UInt64.self),
                $0.loadUnaligned(fromByteOffset: 16, as: UInt64.self),
                $0.loadUnaligned(fromByteOffset: 24, as: UInt64.self)
            )
        }
    }

    static func == (lhs: RowName, rhs: RowName) -> Bool {
        lhs.words.0 == rhs.words.0 && lhs.words.1 == rhs.words.1 && lhs.words.2 == rhs.words.2
            && lhs.words.3 == rhs.words.3
    }

    func hash(into hasher: inout Hasher) {
        hasher.combine(words.0)
        hasher.combine(words.1)
    }
}
