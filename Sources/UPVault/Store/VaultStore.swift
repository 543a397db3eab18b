/// What a vault handle can do, whether it holds the keys itself (`Vault`, opened with the passphrase)
/// or asks the unlocked agent (`AgentClient`). Apps and the OAuth flows are written against this, so
/// they behave the same either way; `VaultStore.connect` picks the agent when one serves the vault.
public protocol VaultStore: AnyObject, Sendable {
    /// The vault file's path.
    var path: String { get }
    /// The raw value of an entry, in secure memory, or nil when there is none.
    func value(for key: EntryKey) throws -> SecureBytes?
    /// The value of an entry with its version (for a conditional write), or nil when there is none.
    func versionedValue(for key: EntryKey) throws -> VersionedValue?
    /// The names of all entries of one kind, sorted.
    func names(of kind: EntryKind) throws -> [String]
    func contains(_ key: EntryKey) throws -> Bool
    /// Applies every change made in `body` as one durable batch, all or nothing.
    func write(_ body: (inout VaultTransaction) throws -> Void) throws
    /// Runs `body` holding the cross-process lock of one entry (see `Vault.withEntryLock`).
    func withEntryLock<R>(_ key: EntryKey, timeout: Duration, _ body: () async throws -> R) async throws -> R
    /// Rewrites the file with only the live entries, so superseded values are gone from it.
    func compact() throws
    /// The file's tail when it does not end in a seal right after its last complete batch: reported
    /// (the complete batches are served), never removed except by `Vault.repair()`.
    func tail() throws -> TornTail?
}

/// A store that holds the vault's keys itself: a vault file (`Vault`) or a vault in a database
/// (`PostgresVault`, in UPVaultPostgres). Both keep the same entries, versions, conditional writes and
/// key management, and one conformance suite checks both.
public protocol KeyedVaultStore: VaultStore {
    /// Replaces the passphrase (the master key stays; the recovery key keeps working).
    func changePassphrase(to passphrase: borrowing SecureBytes, kdf: KDFParameters?) throws
    /// Adds a recovery-key slot (replacing any) and returns the new recovery key, to show once.
    func addRecoveryKey() throws -> SecureBytes
    /// Draws a new master key and re-encrypts every entry under it; the old recovery key stops working.
    func rekey(passphrase: borrowing SecureBytes, kdf: KDFParameters?, withRecoveryKey: Bool) throws -> SecureBytes?
    /// What the vault holds now, without reading every entry.
    func statistics() throws -> VaultStatistics
    /// Reads and checks everything the vault holds (`fsck`), and says what it holds.
    func verify() throws -> VaultStatistics
    /// Zeroes this handle's keys and decrypted scratch now, whoever else holds the handle (the agent
    /// locking); every later call on it fails with `VaultError.handleUnusable`.
    func wipeKeys()
}

/// A store that reports the versions its writes give (the file vault and the database vault), so a
/// writer that goes on writing conditionally needs no read in between.
package protocol VersionReportingStore: VaultStore {
    func commitReturningVersions(_ transaction: VaultTransaction) throws -> [EntryKey: EntryVersion]
}

extension Vault: VersionReportingStore {}

extension VaultStore {
    /// Stores an entry only if it is still at `version` (nil: only if there is none), and returns the
    /// version it has now (`VaultError.conflict` when someone else wrote it in between).
    public func putReturningVersion<E: CodableEntry & Equatable>(
        _ entry: E, ifVersion version: EntryVersion?
    ) throws -> EntryVersion {
        var transaction = VaultTransaction()
        try transaction.put(entry, ifVersion: version)
        if let store = self as? any VersionReportingStore,
            let now = try store.commitReturningVersions(transaction)[entry.entryKey]
        {
            return now
        }
        let prepared = transaction
        try write { $0 = prepared }
        guard let (stored, now) = try versionedEntry(E.self, named: entry.entryName), stored == entry else {
            throw VaultError.conflict(entry.entryKey)
        }
        return now
    }

    /// Stores an entry only if the vault still holds `expected`, read at `version`, and returns the
    /// version it has now (`VaultError.conflict` when someone else changed it in between).
    ///
    /// A version also changes when a vault file is rewritten: another process's compaction gives every
    /// entry a new one without changing it. A conflict whose entry still holds exactly `expected` is no
    /// conflict, and the write is made at the entry's new version; a writer that read, worked and wrote
    /// (an OAuth refresh: the provider's new tokens) never loses its work to a compaction.
    public func putReturningVersion<E: CodableEntry & Equatable>(
        _ entry: E, ifVersion version: EntryVersion, holding expected: E
    ) throws -> EntryVersion {
        var version = version
        for attempt in 1...3 {
            do {
                return try putReturningVersion(entry, ifVersion: version)
            } catch VaultError.conflict(let key) {
                guard attempt < 3, let (stored, now) = try versionedEntry(E.self, named: entry.entryName),
                    stored == expected, now != version
                else { throw VaultError.conflict(key) }
                version = now
            }
        }
        throw VaultError.conflict(entry.entryKey)
    }
}

extension Vault: VaultStore {}
extension Vault: KeyedVaultStore {}

extension VaultStore {
    public func put(_ key: EntryKey, value: borrowing SecureBytes) throws {
        try write { transaction in try transaction.put(key, value: value) }
    }

    /// Deletes an entry; false (and nothing written) when there was none.
    @discardableResult
    public func remove(_ key: EntryKey) throws -> Bool {
        guard try contains(key) else { return false }
        try write { transaction in transaction.remove(key) }
        return true
    }

    public func secret(named name: String) throws -> SecureBytes? {
        try value(for: EntryKey(.secret, name))
    }

    public func setSecret(_ value: borrowing SecureBytes, named name: String) throws {
        try put(EntryKey(.secret, name), value: value)
    }

    @discardableResult
    public func removeSecret(named name: String) throws -> Bool {
        try remove(EntryKey(.secret, name))
    }

    public func secretNames() throws -> [String] {
        try names(of: .secret)
    }

    /// The entry of type `E` named `name`, or nil when there is none.
    public func entry<E: CodableEntry>(_ type: E.Type, named name: String) throws -> E? {
        let key = EntryKey(E.kind, name)
        if let vault = self as? Vault { return try vault.decodedEntry(E.self, key: key) }
        guard let value = try value(for: key) else { return nil }
        return try E.decode(value, key: key)
    }

    /// Every entry of type `E`, sorted by name (one pass for a store that holds its keys).
    public func entries<E: CodableEntry>(_ type: E.Type) throws -> [E] {
        if let vault = self as? Vault { return try vault.versionedEntries(E.self).map(\.entry) }
        if let source = self as? any EntrySource {
            var result: [(name: String, entry: E)] = []
            try source.forEachEntry(of: E.kind) { name, value in
                result.append((name, try E.decode(value, key: EntryKey(E.kind, name))))
            }
            return result.sorted { EntryName.precedes($0.name, $1.name) }.map(\.entry)
        }
        return try names(of: E.kind).compactMap { try entry(E.self, named: $0) }
    }

    /// The entry of type `E` named `name` with its version, or nil when there is none.
    public func versionedEntry<E: CodableEntry>(
        _ type: E.Type, named name: String
    ) throws -> (entry: E, version: EntryVersion)? {
        let key = EntryKey(E.kind, name)
        guard let versioned = try versionedValue(for: key) else { return nil }
        return (try E.decode(versioned.value, key: key), versioned.version)
    }

    /// Stores an entry only if it is still at `version` (nil: only if there is none), else
    /// `VaultError.conflict`.
    public func put<E: CodableEntry>(_ entry: E, ifVersion version: EntryVersion?) throws {
        try write { transaction in try transaction.put(entry, ifVersion: version) }
    }

    /// Stores an entry under its `entryName`, replacing any previous one.
    public func put<E: CodableEntry>(_ entry: E) throws {
        try write { transaction in try transaction.put(entry) }
    }

    public func withEntryLock<R>(_ key: EntryKey, _ body: () async throws -> R) async throws -> R {
        try await withEntryLock(key, timeout: .seconds(60), body)
    }
}

extension Vault {
    /// The entry of type `E` at `key`, decoded straight from the scratch buffer (no secure allocation).
    func decodedEntry<E: CodableEntry>(_ type: E.Type, key: EntryKey) throws(VaultError) -> E? {
        try withLockedState(exclusive: false) { (state) throws(VaultError) -> E? in
            guard let location = state.index[key] else { return nil }
            return try Self.withValue(at: location, key: key, state: state) { (value) throws(VaultError) in
                try E.decode(value, key: key)
            }
        }
    }

    /// Every entry of type `E` with its version, sorted by name, in one pass under one lock.
    package func versionedEntries<E: CodableEntry>(
        _ type: E.Type
    ) throws(VaultError) -> [(
        entry: E, version: EntryVersion
    )] {
        var result: [(entry: E, version: EntryVersion)] = []
        try forEachValueBytes(of: E.kind) { (name, version, value) throws(VaultError) in
            result.append((try E.decode(value, key: EntryKey(E.kind, name)), version))
        }
        return result
    }
}
