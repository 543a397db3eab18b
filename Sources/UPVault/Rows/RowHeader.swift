/// The header of a vault kept in rows: the file's header encoding (magic, version, vault id,
/// generation, creation time, key slots), its MAC under the rows' own header subkey, so a file's header
/// and a database's never verify in each other's place. The generation counts key changes
/// (passphrase, recovery key, re-key); nothing else changes a header row.
package struct RowHeader: Sendable, Equatable {
    var header: VaultHeader

    package var vaultID: [UInt8] { header.vaultID }
    package var generation: UInt64 { header.generation }
    package var createdAt: UInt64 { header.createdAt }
    package var hasRecoveryKey: Bool { header.slots.contains { $0.kind == .recoveryKey } }
    package var passphraseKDF: KDFParameters? { header.slots.first { $0.kind == .passphrase }?.kdf }

    /// A new vault's header and keys: a random master key and vault id, one passphrase slot.
    package static func create(
        passphrase: borrowing SecureBytes, kdf: KDFParameters, createdAt: UInt64
    ) throws(VaultError) -> (header: RowHeader, keys: RowKeys) {
        guard !passphrase.isEmpty else { throw .emptyPassphrase }
        let masterKey = SecureBytes.random(count: KeyDerivation.masterKeyByteCount)
        let vaultID = Random.bytes(RowFormat.vaultIDByteCount)
        let slot = try Unlock.passphraseSlot(masterKey: masterKey, passphrase: passphrase, kdf: kdf, vaultID: vaultID)
        let header = VaultHeader(vaultID: vaultID, generation: 1, createdAt: createdAt, slots: [slot])
        return (RowHeader(header: header), RowKeys(masterKey: masterKey))
    }

    /// A header for the key of an existing vault (a file's, when it moves into a database): the same
    /// vault id, master key and key slots, so the same passphrase and recovery key open it.
    package static func adopting(keysOf file: Vault) throws(VaultError) -> (header: RowHeader, keys: RowKeys) {
        let (header, keys) = try file.withLockedState(exclusive: false) { state in
            (state.header, RowKeys(masterKey: state.keys.masterKey.duplicate()))
        }
        let adopted = VaultHeader(
            vaultID: header.vaultID, generation: 1, createdAt: header.createdAt, slots: header.slots)
        return (RowHeader(header: adopted), keys)
    }

    /// Parses a header row (structure only; `unlock` checks its MAC). The row holds exactly one header.
    package static func decode(_ bytes: [UInt8]) throws(VaultError) -> RowHeader {
        guard bytes.count <= RowFormat.maximumHeaderByteCount else {
            throw .integrity(.malformedHeader("header row of \(bytes.count) bytes"))
        }
        let header = try bytes.withRawBytes { (raw) throws(VaultError) in try VaultHeader.decode(raw) }
        guard bytes.count == header.byteCount else {
            throw .integrity(.malformedHeader("header row of \(bytes.count) bytes for \(header.slots.count) slots"))
        }
        guard header.generation >= 1 else { throw .integrity(.malformedHeader("generation 0")) }
        return RowHeader(header: header)
    }

    /// The header row's bytes, MAC included.
    package func encoded(keys: RowKeys) -> [UInt8] { header.encoded(macKey: keys.headerMAC) }

    /// The keys, from the passphrase (every slot's Argon2id costs checked against `limits` first), the
    /// header row's MAC verified with them.
    package func unlock(
        passphrase: borrowing SecureBytes, limits: KDFLimits, bytes: [UInt8]
    ) throws(VaultError) -> RowKeys {
        try verified(
            RowKeys(masterKey: try Unlock.masterKey(passphrase: passphrase, header: header, limits: limits)), bytes)
    }

    package func unlock(recoveryKey: borrowing SecureBytes, bytes: [UInt8]) throws(VaultError) -> RowKeys {
        try verified(RowKeys(masterKey: try Unlock.masterKey(recoveryKey: recoveryKey, header: header)), bytes)
    }

    /// The keys from the master key itself (the agent); a wrong key fails the MAC.
    package func unlock(key: borrowing VaultKey, bytes: [UInt8]) throws(VaultError) -> RowKeys {
        guard key.masterKey.count == KeyDerivation.masterKeyByteCount else { throw .wrongPassphraseOrDamagedHeader }
        do {
            return try verified(RowKeys(masterKey: key.masterKey.duplicate()), bytes)
        } catch .integrity(.headerAuthentication) {
            throw .wrongPassphraseOrDamagedHeader
        }
    }

    /// Checks the MAC of `bytes` (this header's row) with `keys`.
    package func verified(_ keys: RowKeys, _ bytes: [UInt8]) throws(VaultError) -> RowKeys {
        try bytes.withRawBytes { (raw) throws(VaultError) in try header.verifyMAC(in: raw, macKey: keys.headerMAC) }
        return keys
    }

    /// The next header with the passphrase slot made anew for `passphrase` (the recovery slot kept).
    package func changingPassphrase(
        to passphrase: borrowing SecureBytes, kdf: KDFParameters?, keys: RowKeys
    ) throws(VaultError) -> RowHeader {
        guard !passphrase.isEmpty else { throw .emptyPassphrase }
        var slots = header.slots.filter { $0.kind != .passphrase }
        slots.insert(
            try Unlock.passphraseSlot(
                masterKey: keys.masterKey, passphrase: passphrase, kdf: kdf ?? passphraseKDF ?? .moderate,
                vaultID: vaultID),
            at: 0)
        return next(slots: slots)
    }

    /// The next header with a new recovery-key slot (replacing any), and the new recovery key.
    package func addingRecoveryKey(keys: RowKeys) -> RowKeyChange {
        let key = SecureBytes.random(count: 32)
        var slots = header.slots.filter { $0.kind != .recoveryKey }
        slots.append(Unlock.recoverySlot(masterKey: keys.masterKey, recoveryKey: key, vaultID: vaultID))
        return RowKeyChange(header: next(slots: slots), keys: keys, recoveryKey: key)
    }

    /// The next header under a new master key: one passphrase slot, and a recovery slot with
    /// `withRecoveryKey` (the old recovery key stops working either way).
    package func rekeyed(
        passphrase: borrowing SecureBytes, kdf: KDFParameters?, withRecoveryKey: Bool
    ) throws(VaultError) -> RowKeyChange {
        guard !passphrase.isEmpty else { throw .emptyPassphrase }
        let masterKey = SecureBytes.random(count: KeyDerivation.masterKeyByteCount)
        var slots = [
            try Unlock.passphraseSlot(
                masterKey: masterKey, passphrase: passphrase, kdf: kdf ?? passphraseKDF ?? .moderate, vaultID: vaultID)
        ]
        var recoveryKey: SecureBytes? = nil
        if withRecoveryKey {
            let key = SecureBytes.random(count: 32)
            slots.append(Unlock.recoverySlot(masterKey: masterKey, recoveryKey: key, vaultID: vaultID))
            recoveryKey = consume key
        }
        return RowKeyChange(header: next(slots: slots), keys: RowKeys(masterKey: masterKey), recoveryKey: recoveryKey)
    }

    private func next(slots: [KeySlot]) -> RowHeader {
        RowHeader(
            header: VaultHeader(
                vaultID: vaultID, generation: generation + 1, createdAt: createdAt, slots: slots))
    }
}

/// A new header, the keys it goes with, and the recovery key made with it (shown to the user once).
package struct RowKeyChange: ~Copyable {
    package var header: RowHeader
    package var keys: RowKeys
    package var recoveryKey: SecureBytes?

    /// The recovery key, leaving nil in its place.
    package mutating func takeRecoveryKey() -> SecureBytes? { recoveryKey.take() }
}
