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
    private let lockFile: PosixFile
    let state: Mutex<State>

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
        var index: [EntryKey: RecordLocation]
        var scratch: SecureBox
        var unusable = false
        /// The keys were wiped (`wipeKeys`): nothing can be read or written any more.
        var wiped = false

        var identity: LogIdentity { LogIdentity(vaultID: header.vaultID, generation: header.generation) }
        var deadRecordCount: Int { Int(committed.count) - index.count }

        mutating func apply(_ records: [ScannedRecord]) {
            Self.apply(records, to: &index)
        }

        /// The one place where records change the index.
        static func apply(_ records: [ScannedRecord], to index: inout [EntryKey: RecordLocation]) {
            for record in records {
                switch record.operation {
                case .put: index[record.key] = record.location
                case .delete: index[record.key] = nil
                }
            }
        }
    }

    private init(path: String, lockFile: PosixFile, state: consuming State, logger: Logger) {
        self.path = path
        self.lockFile = lockFile
        self.state = Mutex(state)
        self.logger = logger
        if let torn = self.state.withLock({ $0.tornTail }) {
            logger.warning(
                "vault ends in an interrupted write; ignoring it", metadata: ["path": "\(path)", "torn": "\(torn)"])
        }
    }

    // MARK: Creating and opening

    /// Creates a new vault at `path` protected by `passphrase`, refusing to replace anything.
    ///
    /// The directory must exist (or, with `creatingDirectories`, is made 0700 with its missing parents)
    /// and be writable only by its owner. `addRecoveryKey()` adds a second
    /// way in.
    public static func create(
        at path: String, passphrase: borrowing SecureBytes, kdf: KDFParameters = .moderate,
        creatingDirectories: Bool = false, logger: Logger = Vault.silentLogger
    ) throws(VaultError) -> Vault {
        // The directories a new vault needs are made private (0700); existing ones are checked as they are.
        if creatingDirectories { try FileSystem.createPrivateParents(of: path) }
        return try create(at: path, passphrase: passphrase, kdf: kdf, createdAt: UInt64(time(nil)), logger: logger)
    }

    static func create(
        at path: String, passphrase: borrowing SecureBytes, kdf: KDFParameters, createdAt: UInt64, logger: Logger
    ) throws(VaultError) -> Vault {
        guard !passphrase.isEmpty else { throw .emptyPassphrase }
        try FileSystem.checkDirectory(of: path)
        if try PosixFile.status(ofPath: path) != nil { throw .vaultExists(path: path) }
        let masterKey = SecureBytes.random(count: KeyDerivation.masterKeyByteCount)
        let vaultID = Random.bytes(UPV1.vaultIDByteCount)
        let slots = [
            try Unlock.passphraseSlot(masterKey: masterKey, passphrase: passphrase, kdf: kdf, vaultID: vaultID)
        ]
        let header = VaultHeader(vaultID: vaultID, generation: 1, createdAt: createdAt, slots: slots)
        let keys = VaultKeys(masterKey: masterKey)
        let (bytes, committed) = Self.emptyLog(header: header, keys: keys)
        let lockFile = try openLockFile(for: path)
        try lockFile.lock(exclusive: true)
        defer { lockFile.unlock() }
        let temporary = try FileSystem.writeTemporary(near: path, chunks: [bytes])
        try FileSystem.install(temporary, at: path)
        let file = try PosixFile.open(path, flags: O_RDWR)
        let status = try file.status()
        let state = State(
            file: file, fileIdentity: status.identity, fileSize: status.size, header: header, keys: keys,
            committed: committed, knownTail: Array(bytes[committed.offset...]), tornTail: nil, index: [:],
            scratch: SecureBox(SecureBytes(count: 4096)))
        logger.info("created vault", metadata: ["path": "\(path)", "kdf": "\(kdf)"])
        return Vault(path: path, lockFile: lockFile, state: state, logger: logger)
    }

    /// Opens the vault at `path` with its passphrase. Every key slot's Argon2id parameters are checked
    /// against `limits` before any key derivation runs.
    public static func open(
        at path: String, passphrase: borrowing SecureBytes, limits: KDFLimits = .default,
        logger: Logger = Vault.silentLogger
    ) throws(VaultError) -> Vault {
        try open(at: path, logger: logger) { (header) throws(VaultError) -> VaultKeys in
            try Unlock.withPassphrase(passphrase, header: header, limits: limits)
        }
    }

    /// Opens the vault at `path` with its recovery key.
    public static func open(
        at path: String, recoveryKey: borrowing SecureBytes, logger: Logger = Vault.silentLogger
    ) throws(VaultError) -> Vault {
        try open(at: path, logger: logger) { (header) throws(VaultError) -> VaultKeys in
            try Unlock.withRecoveryKey(recoveryKey, header: header)
        }
    }

    /// Opens the vault with its master key (the agent, handed the key by `upvault unlock` over a pipe).
    /// The header MAC proves the key right; a wrong key is `wrongPassphraseOrDamagedHeader`.
    package static func open(
        at path: String, masterKey: consuming SecureBytes, logger: Logger = Vault.silentLogger
    ) throws(VaultError) -> Vault {
        guard masterKey.count == KeyDerivation.masterKeyByteCount else { throw .wrongPassphraseOrDamagedHeader }
        let box = SecureBox(masterKey)
        return try open(at: path, logger: logger) { (_) throws(VaultError) -> VaultKeys in
            VaultKeys(masterKey: box.bytes.duplicate())
        }
    }

    /// Zeroes and frees this handle's keys and decrypted scratch now, whoever else still holds the
    /// handle (the agent locking). Every later operation on it fails with `handleUnusable`.
    package func wipeKeys() {
        state.withLock { state in
            state.wiped = true
            state.keys = VaultKeys(masterKey: SecureBytes(count: KeyDerivation.masterKeyByteCount))
            state.scratch = SecureBox(SecureBytes(count: 0))
        }
    }

    /// The master key, for `upvault unlock` to hand to the agent it starts. Nothing else may call this.
    package func withMasterKey<R: Sendable>(_ body: (UnsafeRawBufferPointer) -> R) -> R {
        state.withLock { state in state.keys.masterKey.withUnsafeBytes(body) }
    }

    private static func open(
        at path: String, logger: Logger, unlock: (VaultHeader) throws(VaultError) -> VaultKeys
    ) throws(VaultError) -> Vault {
        try FileSystem.checkDirectory(of: path)
        let file = try openVaultFile(path)
        let status = try file.status()
        try FileSystem.checkOwnership(status, path: path, isDirectory: false)
        let lockFile = try openLockFile(for: path)
        try lockFile.lock(exclusive: false)
        defer { lockFile.unlock() }
        let state = try load(file: file, unlock: unlock)
        return Vault(path: path, lockFile: lockFile, state: state, logger: logger)
    }

    private static func openVaultFile(_ path: String) throws(VaultError) -> PosixFile {
        do {
            return try PosixFile.open(path, flags: O_RDWR)
        } catch .io(_, _, let code) where code == EACCES || code == EROFS {
            return try PosixFile.open(path, flags: O_RDONLY)
        }
    }

    private static func openLockFile(for path: String) throws(VaultError) -> PosixFile {
        let lockPath = lockPath(for: path)
        do {
            return try PosixFile.open(lockPath, flags: O_RDWR | O_CREAT, mode: 0o600)
        } catch .io(_, _, let code) where code == EACCES || code == EROFS {
            return try PosixFile.open(lockPath, flags: O_RDONLY)
        }
    }

    /// Reads and verifies a whole vault file: header, key slot, header MAC, every record, the seal.
    private static func load(
        file: PosixFile, unlock: (VaultHeader) throws(VaultError) -> VaultKeys
    ) throws(VaultError) -> State {
        let status = try file.status()
        guard status.size <= maximumFileSize else { throw .integrity(.fileTooLarge(byteCount: status.size)) }
        let bytes = try file.read(count: status.size, at: 0)
        return try bytes.withRawBytes { (raw) throws(VaultError) -> State in
            let header = try VaultHeader.decode(raw)
            let keys = try unlock(header)
            try header.verifyMAC(in: raw, keys: keys)
            let start = ChainPosition(offset: header.byteCount, count: 0, lastTag: .zero)
            let scratch = SecureBox(SecureBytes(count: 4096))
            var index: [EntryKey: RecordLocation] = [:]
            let identity = LogIdentity(vaultID: header.vaultID, generation: header.generation)
            let result = try LogScanner.scan(
                raw, base: 0, from: start, identity: identity, keys: keys, scratch: scratch
            ) { records in State.apply(records, to: &index) }
            return State(
                file: file, fileIdentity: status.identity, fileSize: status.size, header: header, keys: keys,
                committed: result.committed, knownTail: Array(bytes[result.committed.offset...]),
                tornTail: result.tornTail, index: index, scratch: scratch)
        }
    }

    /// Vault files larger than this are refused before being read.
    static let maximumFileSize = 4 << 30

    static func emptyLog(header: VaultHeader, keys: VaultKeys) -> (bytes: [UInt8], committed: ChainPosition) {
        let headerBytes = header.encoded(keys: keys)
        let committed = ChainPosition(offset: headerBytes.count, count: 0, lastTag: .zero)
        let identity = LogIdentity(vaultID: header.vaultID, generation: header.generation)
        let seal = Seal.encode(identity: identity, count: 0, lastTag: .zero, offset: committed.offset, key: keys.seal)
        return (headerBytes + seal, committed)
    }

    // MARK: Keeping up with other processes

    /// Brings the in-memory index up to date with the file. Called with the lock file held.
    private func refresh(_ state: inout State) throws(VaultError) {
        guard let status = try PosixFile.status(ofPath: path) else { throw .vaultNotFound(path: path) }
        guard status.identity == state.fileIdentity, status.size >= state.committed.offset else {
            try reload(&state)
            return
        }
        let tail = try state.file.read(count: status.size - state.committed.offset, at: state.committed.offset)
        if status.size == state.fileSize && tail == state.knownTail { return }
        do {
            let committedBefore = state.committed
            let keys = state.keys
            let result = try tail.withRawBytes { (raw) throws(VaultError) -> ScanResult in
                try LogScanner.scan(
                    raw, base: committedBefore.offset, from: committedBefore, identity: state.identity, keys: keys,
                    scratch: state.scratch
                ) { records in state.apply(records) }
            }
            state.committed = result.committed
            state.tornTail = result.tornTail
            state.knownTail = Array(tail[(result.committed.offset - committedBefore.offset)...])
            state.fileSize = status.size
        } catch {
            // Something other than an append changed the file: read it whole for a definitive answer.
            try reload(&state)
        }
    }

    /// Re-reads the whole file (after another process replaced it), keeping the master key.
    private func reload(_ state: inout State) throws(VaultError) {
        let file = try Self.openVaultFile(path)
        let keys = state.keys
        let fresh = try Self.load(file: file) { (header) throws(VaultError) -> VaultKeys in
            guard header.vaultID == state.header.vaultID else { throw .rekeyedElsewhere }
            return keys
        }
        state = fresh
    }

    private func withLockedState<R: ~Copyable>(
        exclusive: Bool, _ body: (inout State) throws(VaultError) -> sending R
    ) throws(VaultError) -> sending R {
        try state.withLock { (state: inout State) throws(VaultError) -> sending R in
            try self.locked(&state, exclusive: exclusive, body)
        }
    }

    private func locked<R: ~Copyable>(
        _ state: inout State, exclusive: Bool, _ body: (inout State) throws(VaultError) -> sending R
    ) throws(VaultError) -> sending R {
        if state.wiped || (exclusive && state.unusable) { throw .handleUnusable }
        try lockFile.lock(exclusive: exclusive)
        defer { lockFile.unlock() }
        do {
            try refresh(&state)
        } catch {
            throw error == .integrity(.headerAuthentication) ? .rekeyedElsewhere : error
        }
        return try body(&state)
    }

    // MARK: Reading

    /// The raw value of an entry, decrypted into secure memory, or nil when there is none.
    public func value(for key: EntryKey) throws(VaultError) -> SecureBytes? {
        try withLockedState(exclusive: false) { (state) throws(VaultError) -> SecureBytes? in
            guard let location = state.index[key] else { return nil }
            return try Self.readValue(at: location, key: key, state: state)
        }
    }

    private static func readValue(
        at location: RecordLocation, key: EntryKey, state: State
    ) throws(VaultError) -> SecureBytes {
        let frame = try state.file.read(count: location.frameByteCount, at: location.offset)
        guard frame.count == location.frameByteCount else {
            throw .integrity(.fileTooShort(byteCount: location.offset + frame.count))
        }
        let fields = try frame.withRawBytes { (raw) throws(VaultError) -> RecordFields in
            try RecordFrame.open(
                raw, location: location, identity: state.identity, key: state.keys.record, scratch: &state.scratch.bytes
            )
        }
        return try state.scratch.bytes.withUnsafeBytes { (plaintext) throws(VaultError) -> SecureBytes in
            let storedName = String(decoding: plaintext[fields.name], as: UTF8.self)
            guard fields.operation == .put, fields.kind == key.kind, storedName == key.name else {
                throw .integrity(.malformedRecord(index: location.index, offset: location.offset))
            }
            return SecureBytes(copying: UnsafeRawBufferPointer(rebasing: plaintext[fields.value]))
        }
    }

    /// Every entry of one kind, under one lock (for bulk work: no per-entry lock and refresh).
    public func forEachValue(
        of kind: EntryKind, _ body: (String, borrowing SecureBytes) throws(VaultError) -> Void
    ) throws(VaultError) {
        try withLockedState(exclusive: false) { (state) throws(VaultError) in
            let keys = state.index.keys.filter { $0.kind == kind }.sorted { $0.name < $1.name }
            for key in keys {
                guard let location = state.index[key] else { continue }
                let value = try Self.readValue(at: location, key: key, state: state)
                try body(key.name, value)
            }
        }
    }

    /// The names of all entries of one kind, sorted.
    public func names(of kind: EntryKind) throws(VaultError) -> [String] {
        try withLockedState(exclusive: false) { state in
            state.index.keys.filter { $0.kind == kind }.map(\.name).sorted()
        }
    }

    /// Whether an entry exists.
    public func contains(_ key: EntryKey) throws(VaultError) -> Bool {
        try withLockedState(exclusive: false) { state in state.index[key] != nil }
    }

    // MARK: Writing

    /// Applies every change made in `body` as one batch: one write and one `fdatasync`, all or nothing
    /// (a crash half way leaves none of the batch visible). Nothing is written if `body` throws; the
    /// vault's own failures are `VaultError`s.
    public func write(_ body: (inout VaultTransaction) throws -> Void) throws {
        var transaction = VaultTransaction()
        try body(&transaction)
        try commit(transaction.records, arena: transaction.arena)
    }

    /// `write(_:)` for the library's own callers, keeping the typed error.
    func writeBatch(_ body: (inout VaultTransaction) throws(VaultError) -> Void) throws(VaultError) {
        var transaction = VaultTransaction()
        try body(&transaction)
        try commit(transaction.records, arena: transaction.arena)
    }

    /// Stores `value` under `key`, replacing any previous value.
    public func put(_ key: EntryKey, value: borrowing SecureBytes) throws(VaultError) {
        try writeBatch { (transaction) throws(VaultError) in try transaction.put(key, value: value) }
    }

    /// Deletes an entry. Returns false (and writes nothing) when there was none.
    @discardableResult
    public func remove(_ key: EntryKey) throws(VaultError) -> Bool {
        guard try contains(key) else { return false }
        var removed = false
        try writeBatch { transaction in
            transaction.remove(key)
            removed = true
        }
        return removed
    }

    private func commit(_ records: [PendingRecord], arena: SecureArena) throws(VaultError) {
        try withLockedState(exclusive: true) { (state) throws(VaultError) in
            var existing = Set<EntryKey>()
            let effective = records.filter { record in
                switch record.operation {
                case .put:
                    existing.insert(record.key)
                    return true
                case .delete:
                    let present = existing.contains(record.key) || state.index[record.key] != nil
                    existing.remove(record.key)
                    return present
                }
            }
            guard !effective.isEmpty || state.tornTail != nil else { return }
            try append(effective, arena: arena, to: &state)
            if state.deadRecordCount >= Self.compactionMinimumDead && state.deadRecordCount > state.index.count {
                do {
                    try rewrite(&state, slots: nil, keys: nil)
                } catch {
                    logger.warning("automatic compaction failed; the vault is intact", metadata: ["error": "\(error)"])
                }
            }
        }
    }

    /// Compaction starts once this many records are dead and they outnumber the live ones.
    static let compactionMinimumDead = 16

    private func append(_ records: [PendingRecord], arena: SecureArena, to state: inout State) throws(VaultError) {
        var position = state.committed
        var output = ByteWriter(capacity: records.count * 160 + UPV1.sealByteCount)
        var written: [ScannedRecord] = []
        written.reserveCapacity(records.count)
        for (number, record) in records.enumerated() {
            let (frame, tag) = arena.withMutableBytes(record.slot) { plaintext in
                plaintext[2] = number == records.count - 1 ? RecordFrame.endOfBatchFlag : 0
                return RecordFrame.seal(
                    UnsafeRawBufferPointer(plaintext), identity: state.identity, index: position.count,
                    previousTag: position.lastTag, key: state.keys.record)
            }
            written.append(
                ScannedRecord(
                    location: RecordLocation(
                        offset: position.offset, index: position.count, previousTag: position.lastTag,
                        ciphertextByteCount: UInt32(frame.count - UPV1.recordPrefixByteCount)),
                    operation: record.operation, key: record.key))
            output.append(frame)
            position = ChainPosition(offset: position.offset + frame.count, count: position.count + 1, lastTag: tag)
        }
        let seal = Seal.encode(
            identity: state.identity, count: position.count, lastTag: position.lastTag, offset: position.offset,
            key: state.keys.seal)
        output.append(seal)

        let file = state.file
        let start = state.committed.offset
        do {
            if state.tornTail != nil { try file.truncate(to: start) }
            try file.write(output.bytes, at: start)
        } catch {
            // Put the file back as it was (a seal may have been half overwritten). If even that fails,
            // the file still reads as its last committed state with a torn tail.
            do {
                try file.truncate(to: start)
                if state.tornTail == nil { try file.write(state.knownTail, at: start) }
                try file.syncData()
            } catch {
                state.unusable = true
            }
            throw error
        }
        do {
            try file.syncData()
        } catch {
            state.unusable = true
            throw error
        }
        state.apply(written)
        state.committed = position
        state.knownTail = seal
        state.tornTail = nil
        state.fileSize = position.offset + seal.count
    }

    // MARK: Rewriting (compaction, passphrase change, re-key)

    /// Writes the live entries into a new file (generation + 1) and atomically replaces the vault
    /// with it. Old or new file, never a mix.
    private func rewrite(_ state: inout State, slots: [KeySlot]?, keys newKeys: VaultKeys?) throws(VaultError) {
        let keys = newKeys ?? state.keys
        let header = VaultHeader(
            vaultID: state.header.vaultID, generation: state.header.generation + 1, createdAt: state.header.createdAt,
            slots: slots ?? state.header.slots)
        let identity = LogIdentity(vaultID: header.vaultID, generation: header.generation)
        let old = try state.file.read(count: state.committed.offset, at: 0)
        guard old.count == state.committed.offset else { throw .integrity(.fileTooShort(byteCount: old.count)) }

        var chunks: [[UInt8]] = [header.encoded(keys: keys)]
        var current = ByteWriter(capacity: 1 << 20)
        var position = ChainPosition(offset: chunks[0].count, count: 0, lastTag: .zero)
        var index: [EntryKey: RecordLocation] = [:]
        index.reserveCapacity(state.index.count)
        let live = state.index.sorted { ($0.key.kind.rawValue, $0.key.name) < ($1.key.kind.rawValue, $1.key.name) }
        let oldIdentity = state.identity
        for (number, (key, location)) in live.enumerated() {
            _ = try old.withRawBytes { (raw) throws(VaultError) -> RecordFields in
                try RecordFrame.open(
                    UnsafeRawBufferPointer(rebasing: raw[location.offset..<location.offset + location.frameByteCount]),
                    location: location, identity: oldIdentity, key: state.keys.record, scratch: &state.scratch.bytes)
            }
            // Re-encrypt straight from the scratch buffer: no secure allocation per record.
            let plaintextCount = Int(location.ciphertextByteCount) - XChaCha20Poly1305.tagByteCount
            state.scratch.bytes.withUnsafeMutableBytes {
                $0[2] = number == live.count - 1 ? RecordFrame.endOfBatchFlag : 0
            }
            let (frame, tag) = state.scratch.bytes.withUnsafeBytes { scratch in
                RecordFrame.seal(
                    UnsafeRawBufferPointer(rebasing: scratch[0..<plaintextCount]), identity: identity,
                    index: position.count, previousTag: position.lastTag, key: keys.record)
            }
            index[key] = RecordLocation(
                offset: position.offset, index: position.count, previousTag: position.lastTag,
                ciphertextByteCount: location.ciphertextByteCount)
            current.append(frame)
            position = ChainPosition(offset: position.offset + frame.count, count: position.count + 1, lastTag: tag)
            if current.bytes.count >= 1 << 20 {
                chunks.append(current.bytes)
                current = ByteWriter(capacity: 1 << 20)
            }
        }
        let seal = Seal.encode(
            identity: identity, count: position.count, lastTag: position.lastTag, offset: position.offset,
            key: keys.seal)
        current.append(seal)
        chunks.append(current.bytes)

        FileSystem.removeStaleTemporaries(near: path)
        let temporary = try FileSystem.writeTemporary(near: path, chunks: chunks)
        try FileSystem.replace(path, with: temporary)
        let file = try PosixFile.open(path, flags: O_RDWR)
        let status = try file.status()
        state = State(
            file: file, fileIdentity: status.identity, fileSize: status.size, header: header, keys: keys,
            committed: position, knownTail: seal, tornTail: nil, index: index, scratch: state.scratch)
        logger.info("rewrote vault", metadata: ["generation": "\(header.generation)", "entries": "\(index.count)"])
    }

    /// Drops dead records by rewriting the file (generation + 1).
    public func compact() throws(VaultError) {
        try withLockedState(exclusive: true) { (state) throws(VaultError) in try rewrite(&state, slots: nil, keys: nil)
        }
    }

    /// Replaces the passphrase. The master key stays (entries need no re-encryption for it, though the
    /// file is rewritten); the recovery-key slot, if any, keeps working. `kdf` defaults to the current
    /// passphrase slot's parameters.
    public func changePassphrase(to passphrase: borrowing SecureBytes, kdf: KDFParameters? = nil) throws(VaultError) {
        guard !passphrase.isEmpty else { throw .emptyPassphrase }
        try withLockedState(exclusive: true) { (state) throws(VaultError) in
            let current = state.header.slots.first { $0.kind == .passphrase }?.kdf ?? .moderate
            var slots = state.header.slots.filter { $0.kind != .passphrase }
            slots.insert(
                try Unlock.passphraseSlot(
                    masterKey: state.keys.masterKey, passphrase: passphrase, kdf: kdf ?? current,
                    vaultID: state.header.vaultID),
                at: 0)
            try rewrite(&state, slots: slots, keys: nil)
        }
    }

    /// Adds a recovery-key slot (replacing an existing one) and returns the new 32-byte recovery key,
    /// which opens the vault when the passphrase is lost. Show it to the user once; it is not stored.
    public func addRecoveryKey() throws(VaultError) -> SecureBytes {
        try withLockedState(exclusive: true) { (state) throws(VaultError) -> SecureBytes in
            let key = SecureBytes.random(count: 32)
            var slots = state.header.slots.filter { $0.kind != .recoveryKey }
            slots.append(
                Unlock.recoverySlot(masterKey: state.keys.masterKey, recoveryKey: key, vaultID: state.header.vaultID))
            try rewrite(&state, slots: slots, keys: nil)
            return key
        }
    }

    /// Draws a new master key and re-encrypts everything under it, for after a suspected compromise.
    /// The passphrase slot is re-made for `passphrase`; the old recovery key stops working, and with
    /// `withRecoveryKey` a new one is made and returned.
    public func rekey(
        passphrase: borrowing SecureBytes, kdf: KDFParameters? = nil, withRecoveryKey: Bool = false
    ) throws(VaultError) -> SecureBytes? {
        guard !passphrase.isEmpty else { throw .emptyPassphrase }
        return try withLockedState(exclusive: true) { (state) throws(VaultError) -> SecureBytes? in
            let current = state.header.slots.first { $0.kind == .passphrase }?.kdf ?? .moderate
            let masterKey = SecureBytes.random(count: KeyDerivation.masterKeyByteCount)
            let vaultID = state.header.vaultID
            var slots = [
                try Unlock.passphraseSlot(
                    masterKey: masterKey, passphrase: passphrase, kdf: kdf ?? current, vaultID: vaultID)
            ]
            var recoveryKey: SecureBytes? = nil
            if withRecoveryKey {
                let key = SecureBytes.random(count: 32)
                slots.append(Unlock.recoverySlot(masterKey: masterKey, recoveryKey: key, vaultID: vaultID))
                recoveryKey = consume key
            }
            try rewrite(&state, slots: slots, keys: VaultKeys(masterKey: masterKey))
            return recoveryKey
        }
    }

    /// Runs `body` on the up-to-date state under the shared lock.
    func inspectState<R>(_ body: (State) throws(VaultError) -> R) throws(VaultError) -> R {
        try withLockedState(exclusive: false) { (state) throws(VaultError) -> R in try body(state) }
    }

    /// Re-reads and re-verifies the whole file (header MAC, every record, the seal), then decrypts
    /// every live entry and decodes apps and grants. Throws at the first problem.
    public func verify() throws(VaultError) -> VaultStatistics {
        try withLockedState(exclusive: false) { (state) throws(VaultError) -> VaultStatistics in
            try reload(&state)
            for (key, location) in state.index {
                let value = try Self.readValue(at: location, key: key, state: state)
                switch key.kind {
                case .secret, .refreshRun: break
                case .app: _ = try App.decode(value, key: key)
                case .grant: _ = try Grant.decode(value, key: key)
                }
            }
            return Self.statistics(of: state)
        }
    }

    /// Removes a torn tail left by an interrupted write (the next write would do the same).
    public func repair() throws(VaultError) {
        try commit([], arena: SecureArena())
    }
}

/// The changes of one batch, applied by `Vault.write(_:)`. Record plaintexts are built in one secure
/// arena for the whole batch.
public struct VaultTransaction {
    var records: [PendingRecord] = []
    let arena = SecureArena()

    /// Stores `value` under `key`.
    public mutating func put(_ key: EntryKey, value: borrowing SecureBytes) throws(VaultError) {
        try value.withUnsafeBytes { (bytes) throws(VaultError) in try put(key, bytes: bytes) }
    }

    /// Stores the bytes under `key`, copying them straight into the batch's secure memory.
    mutating func put(_ key: EntryKey, bytes: UnsafeRawBufferPointer) throws(VaultError) {
        try EntryName.validate(key)
        guard bytes.count <= UPV1.maximumValueByteCount else { throw .valueTooLarge(byteCount: bytes.count) }
        append(.put, key: key, value: bytes)
    }

    /// Deletes `key` (nothing is written for a key that does not exist).
    public mutating func remove(_ key: EntryKey) {
        append(.delete, key: key, value: UnsafeRawBufferPointer(start: nil, count: 0))
    }

    private mutating func append(_ operation: RecordOperation, key: EntryKey, value: UnsafeRawBufferPointer) {
        let name = Array(key.name.utf8)
        let slot = arena.allocate(RecordFrame.plaintextByteCount(nameCount: name.count, valueCount: value.count))
        arena.withMutableBytes(slot) { out in
            RecordFrame.writePlaintext(
                into: out, operation: operation, kind: key.kind, endsBatch: false, name: name, value: value)
        }
        records.append(PendingRecord(operation: operation, key: key, slot: slot))
    }
}

struct PendingRecord: Sendable {
    var operation: RecordOperation
    var key: EntryKey
    /// The padded plaintext, in the transaction's arena.
    var slot: SecureArena.Slot
}
