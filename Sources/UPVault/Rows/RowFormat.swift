/// Constants of the row format (UPVR1): the layout of a vault in a database, one row per entry.
/// `Vault/ROWS.md` is the normative description; every number here appears there.
///
/// The key slots and the master key are the file's (UPV1); what differs is what a row needs to stand on
/// its own: a keyed hash of the entry's name for lookups, and a per-entry version in every row's
/// associated data, since rows have no chain to bind them to each other.
package enum RowFormat {
    /// `crypto_kdf` subkey ids under the context "UPVault1", beside the file's 1 to 5.
    static let headerMACSubkeyID: UInt64 = 16
    static let entrySubkeyID: UInt64 = 17
    static let nameHashSubkeyID: UInt64 = 18
    static let lockSubkeyID: UInt64 = 19

    /// Domain-separation prefixes (8 bytes each).
    static let entryDomain: [UInt8] = Array("UPVR-ent".utf8)
    static let nameDomain: [UInt8] = Array("UPVR-nam".utf8)
    static let lockDomain: [UInt8] = Array("UPVR-lck".utf8)

    package static let vaultIDByteCount = UPV1.vaultIDByteCount
    package static let nameHashByteCount = 32
    package static let nonceByteCount = XChaCha20Poly1305.nonceByteCount
    package static let minimumCiphertextByteCount = UPV1.minimumCiphertextByteCount
    package static let maximumCiphertextByteCount = UPV1.maximumCiphertextByteCount
    /// The longest header row a reader accepts.
    package static let maximumHeaderByteCount = UPV1.maximumHeaderByteCount

    /// "UPVR-ent" ‖ vault id ‖ kind ‖ name hash ‖ version (u64, little-endian).
    static let associatedDataByteCount = 8 + vaultIDByteCount + 1 + nameHashByteCount + 8
}
