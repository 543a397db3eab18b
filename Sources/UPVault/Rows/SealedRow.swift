/// One entry as a database row: its kind, the keyed hash of its name, its version, and the
/// XChaCha20-Poly1305 encryption of the file's record plaintext (operation put, kind, name, value,
/// padded to 64 bytes) under the entry subkey. The associated data is
/// "UPVR-ent" ‖ vault id ‖ kind ‖ name hash ‖ version, so a row cannot be moved to another entry, another
/// vault or another version without failing to decrypt (Vault/ROWS.md).
package struct SealedRow: Sendable, Equatable {
    package var kind: EntryKind
    package var nameHash: [UInt8]
    package var version: Int64
    package var nonce: [UInt8]
    package var ciphertext: [UInt8]

    package init(kind: EntryKind, nameHash: [UInt8], version: Int64, nonce: [UInt8], ciphertext: [UInt8]) {
        self.kind = kind
        self.nameHash = nameHash
        self.version = version
        self.nonce = nonce
        self.ciphertext = ciphertext
    }

    /// A row from a database's columns, every field checked before anything is decrypted.
    package init(
        kindCode: Int16, nameHash: [UInt8], version: Int64, nonce: [UInt8], ciphertext: [UInt8]
    ) throws(VaultError) {
        let prefix = RowHex.prefix(nameHash)
        guard kindCode >= 0, kindCode <= 255, let kind = EntryKind(rawValue: UInt8(kindCode)) else {
            throw .integrity(.malformedRow(nameHash: prefix, reason: "unknown kind \(kindCode)"))
        }
        guard nameHash.count == RowFormat.nameHashByteCount else {
            throw .integrity(.malformedRow(nameHash: prefix, reason: "name hash of \(nameHash.count) bytes"))
        }
        guard version >= 1 else {
            throw .integrity(.malformedRow(nameHash: prefix, reason: "version \(version)"))
        }
        guard nonce.count == RowFormat.nonceByteCount else {
            throw .integrity(.malformedRow(nameHash: prefix, reason: "nonce of \(nonce.count) bytes"))
        }
        let bounds = RowFormat.minimumCiphertextByteCount...RowFormat.maximumCiphertextByteCount
        guard bounds.contains(ciphertext.count),
            (ciphertext.count - XChaCha20Poly1305.tagByteCount) % UPV1.paddingBlockSize == 0
        else {
            throw .integrity(.malformedRow(nameHash: prefix, reason: "ciphertext of \(ciphertext.count) bytes"))
        }
        self.init(kind: kind, nameHash: nameHash, version: version, nonce: nonce, ciphertext: ciphertext)
    }

    /// Seals a record plaintext (`RecordFrame.writePlaintext`'s padded bytes, operation put) as version
    /// `version` of the entry whose name hashes to `nameHash`.
    package static func seal(
        plaintext: UnsafeRawBufferPointer, kind: EntryKind, nameHash: [UInt8], version: Int64, vaultID: [UInt8],
        keys: RowKeys
    ) -> SealedRow {
        precondition(version >= 1 && nameHash.count == RowFormat.nameHashByteCount)
        let nonce = Random.bytes(RowFormat.nonceByteCount)
        let ad = associatedData(vaultID: vaultID, kind: kind, nameHash: nameHash, version: version)
        let ciphertext = XChaCha20Poly1305.seal(plaintext, nonce: nonce, associatedData: ad, using: keys.entry)
        return SealedRow(kind: kind, nameHash: nameHash, version: version, nonce: nonce, ciphertext: ciphertext)
    }

    /// Seals `value` as version `version` of `key`.
    package static func seal(
        _ key: EntryKey, value: UnsafeRawBufferPointer, version: Int64, vaultID: [UInt8], keys: RowKeys
    ) throws(VaultError) -> SealedRow {
        try EntryName.validate(key)
        guard value.count <= UPV1.maximumValueByteCount else { throw .valueTooLarge(byteCount: value.count) }
        let name = Array(key.name.utf8)
        var plaintext = SecureBytes(
            count: RecordFrame.plaintextByteCount(nameCount: name.count, valueCount: value.count))
        return plaintext.withUnsafeMutableBytes { out in
            RecordFrame.writePlaintext(
                into: out, operation: .put, kind: key.kind, endsBatch: false, name: name, value: value)
            return seal(
                plaintext: UnsafeRawBufferPointer(out), kind: key.kind, nameHash: keys.nameHash(of: key),
                version: version, vaultID: vaultID, keys: keys)
        }
    }

    static func associatedData(vaultID: [UInt8], kind: EntryKind, nameHash: [UInt8], version: Int64) -> [UInt8] {
        var writer = ByteWriter(capacity: RowFormat.associatedDataByteCount)
        writer.append(RowFormat.entryDomain)
        writer.append(vaultID)
        writer.append(kind.rawValue)
        writer.append(nameHash)
        writer.append(UInt64(bitPattern: version))
        return writer.bytes
    }

    /// Decrypts the row into `scratch` (grown when too small) and calls `body` with the entry's name and
    /// value bytes (valid during the call). The row must authenticate, hold a put of its own kind, and
    /// its name must hash to the row's name hash; `expected`, when given, must be that name.
    package func open<R: ~Copyable>(
        vaultID: [UInt8], keys: RowKeys, expected: EntryKey? = nil, scratch: inout SecureBytes,
        _ body: (_ name: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) throws(VaultError) -> R
    ) throws(VaultError) -> R {
        let plaintextCount = ciphertext.count - XChaCha20Poly1305.tagByteCount
        if scratch.count < plaintextCount { scratch = SecureBytes(count: Swift.max(plaintextCount, scratch.count * 2)) }
        let ad = Self.associatedData(vaultID: vaultID, kind: kind, nameHash: nameHash, version: version)
        let authentic = ciphertext.withUnsafeBytes { sealed in
            nonce.withUnsafeBytes { nonce in
                scratch.withUnsafeMutableBytes { out in
                    XChaCha20Poly1305.open(
                        sealed, nonce: nonce, associatedData: ad, using: keys.entry,
                        into: UnsafeMutableRawBufferPointer(rebasing: out[0..<plaintextCount]))
                }
            }
        }
        let prefix = RowHex.prefix(nameHash)
        guard authentic else { throw .integrity(.rowAuthentication(nameHash: prefix, version: version)) }
        return try scratch.withUnsafeBytes { (all) throws(VaultError) -> R in
            let plaintext = UnsafeRawBufferPointer(rebasing: all[0..<plaintextCount])
            guard let fields = RecordFrame.parse(plaintext), fields.operation == .put, fields.kind == kind,
                !fields.endsBatch
            else { throw .integrity(.malformedRow(nameHash: prefix, reason: "the plaintext is not an entry")) }
            let name = UnsafeRawBufferPointer(rebasing: plaintext[fields.name])
            let stored = EntryKey(kind, String(decoding: name, as: UTF8.self))
            guard keys.nameHash(of: stored) == nameHash else {
                throw .integrity(.malformedRow(nameHash: prefix, reason: "the name does not match the name hash"))
            }
            if let expected {
                guard expected.withNameBytes({ $0.elementsEqual(name) }), expected.kind == kind else {
                    throw .integrity(.malformedRow(nameHash: prefix, reason: "another entry's row"))
                }
            }
            return try body(name, UnsafeRawBufferPointer(rebasing: plaintext[fields.value]))
        }
    }
}

/// How rows are named in messages: the first 8 bytes of the name hash in hex, what a database
/// administrator can search for (`WHERE name_hash LIKE '\x....%'`), revealing nothing more than the row does.
package enum RowHex {
    package static func prefix(_ bytes: [UInt8]) -> String { Hex.lowercase(bytes.prefix(8)) }
}
