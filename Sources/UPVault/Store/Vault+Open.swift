public import Logging
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Creating and opening a vault.
extension Vault {
    /// Creates a new vault at `path` protected by `passphrase`, refusing to replace anything.
    ///
    /// The directory must exist (or, with `creatingDirectories`, is made 0700 with its missing parents)
    /// and be writable only by its owner. `addRecoveryKey()` adds a second
    /// way in.
    public static func create(
        at path: String, passphrase: borrowing SecureBytes, kdf: KDFParameters = .moderate,
        creatingDirectories: Bool = false, anchors: VaultAnchors = .forUser(), logger: Logger = Vault.silentLogger
    ) throws(VaultError) -> Vault {
        // The directories a new vault needs are made private (0700); existing ones are checked as they are.
        if creatingDirectories { try FileSystem.createPrivateParents(of: path) }
        return try create(
            at: path, passphrase: passphrase, kdf: kdf, createdAt: UInt64(time(nil)), anchors: anchors, logger: logger)
    }

    static func create(
        at path: String, passphrase: borrowing SecureBytes, kdf: KDFParameters, createdAt: UInt64,
        anchors: VaultAnchors = .forUser(), logger: Logger
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
        logger.info("created vault", metadata: ["path": "\(path)", "kdf": "\(kdf)"])
        return try install(
            header: header, keys: VaultKeys(masterKey: masterKey), at: path, anchors: anchors, logger: logger)
    }

    /// A new, empty vault file with the vault id, key slots and master key of a vault kept in rows
    /// (moving a vault out of a database): the same passphrase and recovery key open it.
    package static func create(
        at path: String, adopting rows: RowHeader, keys: RowKeys, creatingDirectories: Bool,
        anchors: VaultAnchors = .forUser(), logger: Logger = Vault.silentLogger
    ) throws(VaultError) -> Vault {
        if creatingDirectories { try FileSystem.createPrivateParents(of: path) }
        try FileSystem.checkDirectory(of: path)
        if try PosixFile.status(ofPath: path) != nil { throw .vaultExists(path: path) }
        let header = VaultHeader(
            vaultID: rows.vaultID, generation: 1, createdAt: rows.createdAt, slots: rows.header.slots)
        return try install(
            header: header, keys: VaultKeys(masterKey: keys.masterKey.duplicate()), at: path, anchors: anchors,
            logger: logger)
    }

    private static func install(
        header: VaultHeader, keys: VaultKeys, at path: String, anchors: VaultAnchors, logger: Logger
    ) throws(VaultError) -> Vault {
        let (bytes, committed) = Self.emptyLog(header: header, keys: keys)
        let lockFile = try openLockFile(for: path)
        try lockFile.lock(exclusive: true, timeout: Vault.defaultLockTimeout)
        defer { lockFile.unlock() }
        let temporary = try FileSystem.writeTemporary(near: path, chunks: [bytes])
        try FileSystem.install(temporary, at: path)
        let file = try PosixFile.open(path, flags: O_RDWR)
        let status = try file.status()
        let state = State(
            file: file, fileIdentity: status.identity, fileSize: status.size, header: header, keys: keys,
            committed: committed, knownTail: Array(bytes[committed.offset...]), tornTail: nil, index: EntryIndex(),
            scratch: SecureBox(SecureBytes(count: 4096)), decryption: RecordDecryption())
        let vault = Vault(
            path: path, lockFile: lockFile, state: state, anchorPath: anchors.path(for: header.vaultID), logger: logger)
        vault.state.withLock { state in vault.moveAnchor(to: state) }
        return vault
    }

    /// Opens the vault at `path` with its passphrase. Every key slot's Argon2id parameters are checked
    /// against `limits` before any key derivation runs.
    public static func open(
        at path: String, passphrase: borrowing SecureBytes, limits: KDFLimits = .default,
        anchors: VaultAnchors = .forUser(), logger: Logger = Vault.silentLogger
    ) throws(VaultError) -> Vault {
        try open(at: path, anchors: anchors, logger: logger) { (header) throws(VaultError) -> VaultKeys in
            try Unlock.withPassphrase(passphrase, header: header, limits: limits)
        }
    }

    /// Opens the vault at `path` with its recovery key.
    public static func open(
        at path: String, recoveryKey: borrowing SecureBytes, anchors: VaultAnchors = .forUser(),
        logger: Logger = Vault.silentLogger
    ) throws(VaultError) -> Vault {
        try open(at: path, anchors: anchors, logger: logger) { (header) throws(VaultError) -> VaultKeys in
            try Unlock.withRecoveryKey(recoveryKey, header: header)
        }
    }

    /// Opens the vault with its master key (the agent, handed the key by `upvault unlock` over a pipe).
    /// The header MAC proves the key right; a wrong key is `wrongPassphraseOrDamagedHeader`.
    package static func open(
        at path: String, masterKey: consuming SecureBytes, anchors: VaultAnchors = .forUser(),
        logger: Logger = Vault.silentLogger
    ) throws(VaultError) -> Vault {
        guard masterKey.count == KeyDerivation.masterKeyByteCount else { throw .wrongPassphraseOrDamagedHeader }
        let box = SecureBox(masterKey)
        return try open(at: path, anchors: anchors, logger: logger) { (_) throws(VaultError) -> VaultKeys in
            VaultKeys(masterKey: box.bytes.duplicate())
        }
    }

    /// Zeroes and frees this handle's keys and decrypted scratch now, whoever else still holds the
    /// handle (the agent locking). Every later operation on it fails with `handleUnusable`.
    public func wipeKeys() {
        state.withLock { state in
            state.wiped = true
            state.keys = VaultKeys(masterKey: SecureBytes(count: KeyDerivation.masterKeyByteCount))
            state.scratch = SecureBox(SecureBytes(count: 0))
            state.decryption.wipe()
        }
    }

    static func open(
        at path: String, anchors: VaultAnchors, logger: Logger,
        unlock: (VaultHeader) throws(VaultError) -> VaultKeys
    ) throws(VaultError) -> Vault {
        let (file, lockFile) = try openSharedLocked(path)
        defer { lockFile.unlock() }
        // The anchor's claimed count says which tag to keep while scanning; its MAC is checked after.
        var anchorBytes: [UInt8]? = nil
        let (state, tagAtMark) = try load(
            file: file, tagAfter: { anchorBytes.flatMap(AnchorRecord.claimedCount) },
            unlock: { (header) throws(VaultError) -> VaultKeys in
                let keys = try unlock(header)
                if let anchorPath = anchors.path(for: header.vaultID) { anchorBytes = try readAnchor(at: anchorPath) }
                return keys
            })
        let vault = Vault(
            path: path, lockFile: lockFile, state: state,
            anchorPath: anchors.path(for: state.header.vaultID), logger: logger)
        try vault.checkAnchor(
            stored: anchorBytes, tagAtMark: tagAtMark, accepting: anchors.acceptsOlderVault)
        return vault
    }

    /// The vault file, its directory and owner checked, and its lock file holding the shared lock
    /// (the caller unlocks it).
    static func openSharedLocked(_ path: String) throws(VaultError) -> (file: PosixFile, lockFile: PosixFile) {
        try FileSystem.checkDirectory(of: path)
        let file = try openVaultFile(path)
        try FileSystem.checkOwnership(try file.status(), path: path, isDirectory: false)
        let lockFile = try openLockFile(for: path)
        try lockFile.lock(exclusive: false, timeout: Vault.defaultLockTimeout)
        return (file, lockFile)
    }

    static func openVaultFile(_ path: String) throws(VaultError) -> PosixFile {
        do {
            return try PosixFile.open(path, flags: O_RDWR)
        } catch .io(_, _, let code) where code == EACCES || code == EROFS {
            return try PosixFile.open(path, flags: O_RDONLY)
        }
    }

    static func openLockFile(for path: String) throws(VaultError) -> PosixFile {
        try FileSystem.openLockFile(lockPath(for: path))
    }

    /// Reads and verifies a whole vault file: header, key slot, header MAC, every record, the seal.
    /// The records are read in chunks (bounded memory) and decrypted on every core. `tagAfter` asks for
    /// the chain's tag after that many records (nil when the file has fewer).
    static func load(
        file: PosixFile, decryption: RecordDecryption = RecordDecryption(), tagAfter: () -> UInt64? = { nil },
        unlock: (VaultHeader) throws(VaultError) -> VaultKeys
    ) throws(VaultError) -> (state: State, tagAtMark: Tag?) {
        let status = try file.status()
        guard status.size <= maximumFileSize else { throw .integrity(.fileTooLarge(byteCount: status.size)) }
        let headerBytes = try file.read(count: min(status.size, UPV1.maximumHeaderByteCount), at: 0)
        let header = try headerBytes.withRawBytes { (raw) throws(VaultError) in try VaultHeader.decode(raw) }
        let keys = try unlock(header)
        try headerBytes.withRawBytes { (raw) throws(VaultError) in try header.verifyMAC(in: raw, keys: keys) }
        let start = ChainPosition(offset: header.byteCount, count: 0, lastTag: .zero)
        var index = EntryIndex()  // sized by the scan from its first chunk
        let result = try LogScanner.scan(
            .file(file, end: status.size), from: start, identity: LogIdentity(header), keys: keys,
            decryption: decryption, into: &index, mark: tagAfter())
        let tail = try file.read(count: status.size - result.committed.offset, at: result.committed.offset)
        let state = State(
            file: file, fileIdentity: status.identity, fileSize: status.size, header: header, keys: keys,
            committed: result.committed, knownTail: tail, tornTail: result.tornTail, index: index,
            scratch: SecureBox(SecureBytes(count: 4096)), decryption: decryption)
        return (state, result.tagAtMark)
    }

    /// Vault files larger than this are refused before being read.
    static let maximumFileSize = 4 << 30

    static func emptyLog(header: VaultHeader, keys: VaultKeys) -> (bytes: [UInt8], committed: ChainPosition) {
        let headerBytes = header.encoded(keys: keys)
        let committed = ChainPosition(offset: headerBytes.count, count: 0, lastTag: .zero)
        let identity = LogIdentity(header)
        let seal = Seal.encode(identity: identity, count: 0, lastTag: .zero, offset: committed.offset, key: keys.seal)
        return (headerBytes + seal, committed)
    }
}
