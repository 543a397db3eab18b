/// The subkeys of one master key for a vault kept in rows (RowFormat). Held in secure memory while
/// the vault is open.
package final class RowKeys: Sendable {
    let masterKey: SecureBytes
    let headerMAC: SecureBytes
    let entry: SecureBytes
    let nameHash: SecureBytes
    let lock: SecureBytes

    init(masterKey: consuming SecureBytes) {
        headerMAC = KeyDerivation.deriveSubkey(id: RowFormat.headerMACSubkeyID, from: masterKey)
        entry = KeyDerivation.deriveSubkey(id: RowFormat.entrySubkeyID, from: masterKey)
        nameHash = KeyDerivation.deriveSubkey(id: RowFormat.nameHashSubkeyID, from: masterKey)
        lock = KeyDerivation.deriveSubkey(id: RowFormat.lockSubkeyID, from: masterKey)
        self.masterKey = masterKey
    }

    /// Keys derived from zeros, put in place of a handle's keys when it is wiped.
    package static func wiped() -> RowKeys { RowKeys(masterKey: SecureBytes(count: KeyDerivation.masterKeyByteCount)) }

    /// A copy of the master key, for handing to an agent (as `VaultKey`).
    package func vaultKey() -> VaultKey { VaultKey(masterKey.duplicate()) }

    /// The 32-byte keyed hash that names an entry's row: keyed BLAKE2b of "UPVR-nam" ‖ kind ‖ name.
    /// Without the key, a database reader cannot test a guess of a name.
    package func nameHash(of key: EntryKey) -> [UInt8] {
        BLAKE2b.authenticationCode(for: Self.hashInput(RowFormat.nameDomain, key), using: nameHash)
    }

    /// The advisory lock id of an entry (a signed 64-bit key, as PostgreSQL's `pg_advisory_lock` takes):
    /// the first 8 bytes, little-endian, of keyed BLAKE2b of "UPVR-lck" ‖ kind ‖ name under the lock subkey,
    /// so the lock table reveals nothing a row does not.
    package func lockID(of key: EntryKey) -> Int64 {
        let code = BLAKE2b.authenticationCode(for: Self.hashInput(RowFormat.lockDomain, key), using: lock)
        return code.withUnsafeBytes { Int64(bitPattern: $0.loadLittleEndian(at: 0, as: UInt64.self)) }
    }

    private static func hashInput(_ domain: [UInt8], _ key: EntryKey) -> [UInt8] {
        domain + [key.kind.rawValue] + Array(key.name.utf8)
    }
}
