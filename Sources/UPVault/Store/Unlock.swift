/// Turning a credential into the vault's keys, and making key slots.
enum Unlock {
    /// Tries every passphrase slot. All slots' Argon2id parameters are checked against `limits` before
    /// the first derivation, so a hostile header is rejected in microseconds.
    static func withPassphrase(
        _ passphrase: borrowing SecureBytes, header: VaultHeader, limits: KDFLimits
    ) throws(VaultError) -> VaultKeys {
        VaultKeys(masterKey: try masterKey(passphrase: passphrase, header: header, limits: limits))
    }

    /// The master key from the first passphrase slot that `passphrase` opens.
    static func masterKey(
        passphrase: borrowing SecureBytes, header: VaultHeader, limits: KDFLimits
    ) throws(VaultError) -> SecureBytes {
        let slots = header.slots.filter { $0.kind == .passphrase }
        for slot in slots where !limits.admit(slot.kdf) {
            throw .kdfParametersOutOfBounds(slot.kdf)
        }
        guard !passphrase.isEmpty else { throw .emptyPassphrase }
        for slot in slots {
            let wrappingKey: SecureBytes
            do {
                wrappingKey = try Argon2id.deriveKey(from: passphrase, salt: slot.salt, parameters: slot.kdf)
            } catch {
                throw .keyDerivationFailed
            }
            if let masterKey = slot.unwrap(vaultID: header.vaultID, wrappingKey: wrappingKey) {
                return masterKey
            }
        }
        throw .wrongPassphraseOrDamagedHeader
    }

    static func withRecoveryKey(
        _ recoveryKey: borrowing SecureBytes, header: VaultHeader
    ) throws(VaultError) -> VaultKeys {
        VaultKeys(masterKey: try masterKey(recoveryKey: recoveryKey, header: header))
    }

    /// The master key from the recovery-key slot.
    static func masterKey(
        recoveryKey: borrowing SecureBytes, header: VaultHeader
    ) throws(VaultError) -> SecureBytes {
        let slots = header.slots.filter { $0.kind == .recoveryKey }
        guard !slots.isEmpty else { throw .noRecoveryKeySlot }
        guard recoveryKey.count == 32 else { throw .wrongPassphraseOrDamagedHeader }
        for slot in slots {
            let wrappingKey = KeySlot.recoveryWrappingKey(recoveryKey: recoveryKey, salt: slot.salt)
            if let masterKey = slot.unwrap(vaultID: header.vaultID, wrappingKey: wrappingKey) {
                return masterKey
            }
        }
        throw .wrongPassphraseOrDamagedHeader
    }

    static func passphraseSlot(
        masterKey: borrowing SecureBytes, passphrase: borrowing SecureBytes, kdf: KDFParameters, vaultID: [UInt8]
    ) throws(VaultError) -> KeySlot {
        let salt = Random.bytes(Argon2id.saltByteCount)
        let wrappingKey: SecureBytes
        do {
            wrappingKey = try Argon2id.deriveKey(from: passphrase, salt: salt, parameters: kdf)
        } catch {
            throw .keyDerivationFailed
        }
        return KeySlot.seal(
            masterKey: masterKey, kind: .passphrase, kdf: kdf, salt: salt, vaultID: vaultID, wrappingKey: wrappingKey)
    }

    static func recoverySlot(
        masterKey: borrowing SecureBytes, recoveryKey: borrowing SecureBytes, vaultID: [UInt8]
    ) -> KeySlot {
        let salt = Random.bytes(Argon2id.saltByteCount)
        let wrappingKey = KeySlot.recoveryWrappingKey(recoveryKey: recoveryKey, salt: salt)
        return KeySlot.seal(
            masterKey: masterKey, kind: .recoveryKey, kdf: KDFParameters(opsLimit: 0, memLimit: 0), salt: salt,
            vaultID: vaultID, wrappingKey: wrappingKey)
    }
}
