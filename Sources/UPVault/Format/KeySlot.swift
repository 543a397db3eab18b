/// One way into the vault: the master key wrapped under a key derived from a passphrase (Argon2id)
/// or from a recovery key. 104 bytes in the header.
struct KeySlot: Equatable, Sendable {
    enum Kind: UInt8, Sendable {
        case passphrase = 1
        case recoveryKey = 2
    }

    var kind: Kind
    var kdf: KDFParameters
    var salt: [UInt8]
    var nonce: [UInt8]
    var wrappedKey: [UInt8]

    static let wrappedKeyByteCount = KeyDerivation.masterKeyByteCount + XChaCha20Poly1305.tagByteCount

    /// The first 32 bytes of the slot (kind, alg, reserved, ops, mem, salt): the parameters the wrap
    /// authenticates.
    var parameterBytes: [UInt8] {
        var writer = ByteWriter(capacity: 32)
        writer.append(kind.rawValue)
        writer.append(kind == .passphrase ? Argon2id.algorithmIdentifier : 0)
        writer.append(UInt16(0))
        writer.append(kind == .passphrase ? kdf.opsLimit : 0)
        writer.append(kind == .passphrase ? kdf.memLimit : 0)
        writer.append(salt)
        return writer.bytes
    }

    func encode(into writer: inout ByteWriter) {
        writer.append(parameterBytes)
        writer.append(nonce)
        writer.append(wrappedKey)
    }

    /// Parses a slot's 104 bytes. Structural checks only; the KDF bounds are the caller's.
    static func decode(_ reader: inout ByteReader) throws(VaultError) -> KeySlot {
        guard let kindByte = reader.readUInt8(), let alg = reader.readUInt8(), let reserved = reader.readUInt16(),
            let ops = reader.readUInt32(), let mem = reader.readUInt64(),
            let salt = reader.readBytes(Argon2id.saltByteCount),
            let nonce = reader.readBytes(XChaCha20Poly1305.nonceByteCount),
            let wrapped = reader.readBytes(wrappedKeyByteCount)
        else { throw .integrity(.malformedHeader("key slot truncated")) }
        guard let kind = Kind(rawValue: kindByte) else {
            throw .integrity(.malformedHeader("unknown key slot kind \(kindByte)"))
        }
        guard reserved == 0 else { throw .integrity(.malformedHeader("key slot reserved field not zero")) }
        switch kind {
        case .passphrase:
            guard alg == Argon2id.algorithmIdentifier else {
                throw .integrity(.malformedHeader("key slot algorithm \(alg) is not Argon2id"))
            }
        case .recoveryKey:
            guard alg == 0, ops == 0, mem == 0 else {
                throw .integrity(.malformedHeader("recovery key slot carries KDF parameters"))
            }
        }
        return KeySlot(
            kind: kind, kdf: KDFParameters(opsLimit: ops, memLimit: mem), salt: salt, nonce: nonce, wrappedKey: wrapped)
    }

    private static func associatedData(vaultID: [UInt8], parameters: [UInt8]) -> [UInt8] {
        UPV1.slotDomain + vaultID + parameters
    }

    /// Wraps `masterKey` under `wrappingKey` with a fresh nonce.
    static func seal(
        masterKey: borrowing SecureBytes, kind: Kind, kdf: KDFParameters, salt: [UInt8], vaultID: [UInt8],
        wrappingKey: borrowing SecureBytes
    ) -> KeySlot {
        var slot = KeySlot(
            kind: kind, kdf: kdf, salt: salt, nonce: Random.bytes(XChaCha20Poly1305.nonceByteCount), wrappedKey: [])
        let ad = associatedData(vaultID: vaultID, parameters: slot.parameterBytes)
        slot.wrappedKey = masterKey.withUnsafeBytes {
            XChaCha20Poly1305.seal($0, nonce: slot.nonce, associatedData: ad, using: wrappingKey)
        }
        return slot
    }

    /// The master key, or nil when `wrappingKey` is not this slot's key (or the slot was altered).
    func unwrap(vaultID: [UInt8], wrappingKey: borrowing SecureBytes) -> SecureBytes? {
        var masterKey = SecureBytes(count: KeyDerivation.masterKeyByteCount)
        let ad = KeySlot.associatedData(vaultID: vaultID, parameters: parameterBytes)
        let opened = wrappedKey.withUnsafeBytes { ciphertext in
            nonce.withUnsafeBytes { nonceBytes in
                masterKey.withUnsafeMutableBytes { out in
                    XChaCha20Poly1305.open(
                        ciphertext, nonce: nonceBytes, associatedData: ad, using: wrappingKey, into: out)
                }
            }
        }
        guard opened else { return nil }
        return masterKey
    }

    /// The key that wraps the master key in a recovery-key slot: keyed BLAKE2b of the slot's salt.
    static func recoveryWrappingKey(recoveryKey: borrowing SecureBytes, salt: [UInt8]) -> SecureBytes {
        BLAKE2b.derivedKey(for: UPV1.recoveryDomain + salt, using: recoveryKey)
    }
}
