public import Logging
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Rewriting the whole file (compaction, passphrase change, re-key): old or new file, never a mix.
extension Vault {
    /// Writes the live entries into a new file (generation + 1) and atomically replaces the vault
    /// with it. Old or new file, never a mix.
    func rewrite(_ state: inout State, slots: [KeySlot]?, keys newKeys: VaultKeys?) throws(VaultError) {
        let keys = newKeys ?? state.keys
        let header = VaultHeader(
            vaultID: state.header.vaultID, generation: state.header.generation + 1, createdAt: state.header.createdAt,
            slots: slots ?? state.header.slots)
        let identity = LogIdentity(vaultID: header.vaultID, generation: header.generation)
        let old = try state.file.read(count: state.committed.offset, at: 0)
        guard old.count == state.committed.offset else { throw .integrity(.fileTooShort(byteCount: old.count)) }

        let headerBytes = header.encoded(keys: keys)
        var index = EntryIndex(expectedCount: state.index.count)
        let live = state.index.sorted()
        var writer = LogWriter(
            identity: identity, keys: keys, after: ChainPosition(offset: headerBytes.count, count: 0, lastTag: .zero),
            recordCount: live.count, chunkByteCount: 1 << 20)
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
            index[key] = state.scratch.bytes.withUnsafeBytes { scratch in
                writer.append(UnsafeRawBufferPointer(rebasing: scratch[0..<plaintextCount]))
            }
        }
        let position = writer.position
        let (records, seal) = writer.finish()
        let chunks = [headerBytes] + records

        FileSystem.removeStaleTemporaries(near: path)
        let temporary = try FileSystem.writeTemporary(near: path, chunks: chunks)
        try FileSystem.replace(path, with: temporary)
        let file = try PosixFile.open(path, flags: O_RDWR)
        let status = try file.status()
        state = State(
            file: file, fileIdentity: status.identity, fileSize: status.size, header: header, keys: keys,
            committed: position, knownTail: seal, tornTail: nil, index: index, scratch: state.scratch,
            decryption: state.decryption)
        moveAnchor(to: state)
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
            try state.index.forEachEntry { (key, location) throws(VaultError) in
                try Self.withValue(at: location, key: key, state: state) { (value) throws(VaultError) in
                    switch key.kind {
                    case .secret, .refreshRun: break
                    case .app: _ = try App.decode(value, key: key)
                    case .grant: _ = try Grant.decode(value, key: key)
                    }
                }
            }
            return Self.statistics(of: state)
        }
    }

    /// Ends the file in a seal right after its last complete batch, removing a tail (an interrupted
    /// write, or a missing seal). Nothing else removes a tail without writing a batch of its own. The
    /// file is first cut to the batch's end, so an interruption here still leaves an unsealed tail.
    public func repair() throws(VaultError) {
        try withLockedState(exclusive: true) { (state) throws(VaultError) in
            guard let tail = state.tornTail else { return }
            let seal = Seal.encode(
                identity: state.identity, count: state.committed.count, lastTag: state.committed.lastTag,
                offset: state.committed.offset, key: state.keys.seal)
            do throws(VaultError) {
                try state.file.truncate(to: state.committed.offset)
                try state.file.syncData()
                try state.file.write(seal, at: state.committed.offset)
                try state.file.syncData()
            } catch {
                state.unusable = true
                throw error
            }
            state.knownTail = seal
            state.tornTail = nil
            state.fileSize = state.committed.offset + seal.count
            moveAnchor(to: state)
            logger.info("removed the vault's tail", metadata: ["tail": "\(tail)"])
        }
    }
}

/// The changes of one batch, applied by `Vault.write(_:)`. Record plaintexts are built in one secure
/// arena for the whole batch.
public struct VaultTransaction {
    var records: [PendingRecord] = []
    let arena = SecureArena()

    package init() {}

    /// Stores `value` under `key`.
    public mutating func put(_ key: EntryKey, value: borrowing SecureBytes) throws(VaultError) {
        try value.withUnsafeBytes { (bytes) throws(VaultError) in try put(key, bytes: bytes) }
    }

    /// Stores `value` under `key` only if the entry is still at `version` when the batch commits (nil:
    /// only if there is no such entry); otherwise the whole batch fails with `VaultError.conflict` and
    /// nothing is written. What a writer uses when it read the entry, worked, and must not overwrite a
    /// newer value written meanwhile by someone else.
    public mutating func put(
        _ key: EntryKey, value: borrowing SecureBytes, ifVersion version: EntryVersion?
    ) throws(VaultError) {
        try value.withUnsafeBytes { (bytes) throws(VaultError) in
            try put(key, bytes: bytes, condition: version.map { .version($0) } ?? .absent)
        }
    }

    /// Stores the bytes under `key`, copying them straight into the batch's secure memory.
    package mutating func put(
        _ key: EntryKey, bytes: UnsafeRawBufferPointer, condition: WriteCondition? = nil
    ) throws(VaultError) {
        try EntryName.validate(key)
        guard bytes.count <= UPV1.maximumValueByteCount else { throw .valueTooLarge(byteCount: bytes.count) }
        append(.put, key: key, value: bytes, condition: condition)
    }

    /// Deletes `key` (nothing is written for a key that does not exist).
    public mutating func remove(_ key: EntryKey) {
        append(.delete, key: key, value: UnsafeRawBufferPointer(start: nil, count: 0), condition: nil)
    }

    /// Deletes `key` only if it is still at `version` when the batch commits (else `VaultError.conflict`).
    public mutating func remove(_ key: EntryKey, ifVersion version: EntryVersion) {
        append(.delete, key: key, value: UnsafeRawBufferPointer(start: nil, count: 0), condition: .version(version))
    }

    private mutating func append(
        _ operation: RecordOperation, key: EntryKey, value: UnsafeRawBufferPointer, condition: WriteCondition?
    ) {
        let name = Array(key.name.utf8)
        let slot = arena.allocate(RecordFrame.plaintextByteCount(nameCount: name.count, valueCount: value.count))
        arena.withMutableBytes(slot) { out in
            RecordFrame.writePlaintext(
                into: out, operation: operation, kind: key.kind, endsBatch: false, name: name, value: value)
        }
        records.append(PendingRecord(operation: operation, key: key, slot: slot, condition: condition))
    }

    /// The batch's changes, in order, for a store other than the file: each one's key, whether it deletes,
    /// its condition, and its record plaintext (valid during the call).
    package func forEachChange<E: Error>(
        _ body: (PendingChange, UnsafeRawBufferPointer) throws(E) -> Void
    ) throws(E) {
        for record in records {
            let change = PendingChange(
                key: record.key, deletes: record.operation == .delete, condition: record.condition)
            try arena.withBytes(record.slot) { (plaintext) throws(E) in try body(change, plaintext) }
        }
    }

    /// Whether the batch changes nothing.
    package var isEmpty: Bool { records.isEmpty }

    /// Adds a change received from elsewhere (the agent's clients), with its condition.
    package mutating func apply(
        _ key: EntryKey, value: consuming SecureBytes?, condition: WriteCondition?
    ) throws(VaultError) {
        switch consume value {
        case .some(let value):
            try value.withUnsafeBytes { (bytes) throws(VaultError) in try put(key, bytes: bytes, condition: condition) }
        case .none:
            append(.delete, key: key, value: UnsafeRawBufferPointer(start: nil, count: 0), condition: condition)
        }
    }
}

/// What a conditional change requires of the entry when its batch commits.
package enum WriteCondition: Sendable, Equatable {
    /// There is no such entry.
    case absent
    /// The entry is at this version.
    case version(EntryVersion)

    /// "absent" or "GENERATION.RECORD", as the agent protocol carries it.
    package var text: String {
        switch self {
        case .absent: "absent"
        case .version(let version): version.description
        }
    }

    package init?(text: String) {
        if text == "absent" {
            self = .absent
            return
        }
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2, let generation = UInt64(parts[0]), let record = UInt64(parts[1]) else { return nil }
        self = .version(EntryVersion(generation: generation, record: record))
    }
}

/// One change of a batch, as a store other than the file applies it.
package struct PendingChange: Sendable {
    package var key: EntryKey
    package var deletes: Bool
    package var condition: WriteCondition?
}

struct PendingRecord: Sendable {
    var operation: RecordOperation
    var key: EntryKey
    /// The padded plaintext, in the transaction's arena.
    var slot: SecureArena.Slot
    var condition: WriteCondition? = nil
}
