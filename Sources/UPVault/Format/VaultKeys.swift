/// The subkeys of one master key. Held in secure memory for as long as the vault is open; the master
/// key itself is kept only to wrap it into new key slots.
final class VaultKeys: Sendable {
    let masterKey: SecureBytes
    let headerMAC: SecureBytes
    let record: SecureBytes
    let seal: SecureBytes
    /// Keys the offsets of entry locks (never used on file contents).
    let entryLock: SecureBytes
    /// Authenticates the anchor file (never used on file contents).
    let anchor: SecureBytes

    init(masterKey: consuming SecureBytes) {
        headerMAC = KeyDerivation.deriveSubkey(id: UPV1.headerMACSubkeyID, from: masterKey)
        record = KeyDerivation.deriveSubkey(id: UPV1.recordSubkeyID, from: masterKey)
        seal = KeyDerivation.deriveSubkey(id: UPV1.sealSubkeyID, from: masterKey)
        entryLock = KeyDerivation.deriveSubkey(id: UPV1.entryLockSubkeyID, from: masterKey)
        anchor = KeyDerivation.deriveSubkey(id: UPV1.anchorSubkeyID, from: masterKey)
        self.masterKey = masterKey
    }
}
