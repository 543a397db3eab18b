/// Constants of the UPV1 vault format. `Vault/FORMAT.md` is the normative description; every number
/// here appears there.
enum UPV1 {
    static let magic: [UInt8] = Array("UPV1".utf8)
    static let version: UInt16 = 1

    static let vaultIDByteCount = 16
    static let fixedHeaderByteCount = 48
    static let slotByteCount = 104
    static let headerMACByteCount = 32
    /// One passphrase slot and one recovery-key slot at most: opening runs Argon2id once, whatever a
    /// planted header holds.
    static let maximumSlotCount = 2

    /// Frame type bytes.
    static let recordFrameType: UInt8 = 0x52  // "R"
    static let sealFrameType: UInt8 = 0x45  // "E": four bits from "R", so no single flip turns one into the other

    /// type(1) ‖ n(4) ‖ ~n(4) ‖ nonce(24), then n bytes of ciphertext.
    static let recordHeaderByteCount = 9
    static let recordPrefixByteCount = recordHeaderByteCount + XChaCha20Poly1305.nonceByteCount
    /// type(1) ‖ 0xFF×8 ‖ count(8) ‖ mac(32).
    static let sealByteCount = 49

    static let paddingBlockSize = 64
    static let payloadHeaderByteCount = 10
    static let maximumNameByteCount = 512
    static let maximumValueByteCount = 1 << 20
    static let minimumCiphertextByteCount = paddingBlockSize + XChaCha20Poly1305.tagByteCount
    static let maximumCiphertextByteCount =
        Padding.paddedLength(
            payloadHeaderByteCount + maximumNameByteCount + maximumValueByteCount, blockSize: paddingBlockSize)
        + XChaCha20Poly1305.tagByteCount

    /// Domain-separation prefixes (8 bytes each) of the associated data and MAC inputs.
    static let slotDomain: [UInt8] = Array("UPV1-key".utf8)
    static let recordDomain: [UInt8] = Array("UPV1-rec".utf8)
    static let sealDomain: [UInt8] = Array("UPV1-sea".utf8)
    static let recoveryDomain: [UInt8] = Array("UPV1-rky".utf8)
    static let anchorDomain: [UInt8] = Array("UPV1-anc".utf8)

    /// `crypto_kdf` subkey ids under the context "UPVault1".
    static let headerMACSubkeyID: UInt64 = 1
    static let recordSubkeyID: UInt64 = 2
    static let sealSubkeyID: UInt64 = 3
    /// Not a file key: keys the byte offsets of entry locks in `<vault>.lock` (see `Vault.withEntryLock`).
    static let entryLockSubkeyID: UInt64 = 4
    /// Not a file key: authenticates the vault's anchor outside the vault (see `VaultAnchors`).
    static let anchorSubkeyID: UInt64 = 5

    /// The longest header a reader accepts (`maximumSlotCount` slots).
    static let maximumHeaderByteCount = headerByteCount(slotCount: maximumSlotCount)

    static func headerByteCount(slotCount: Int) -> Int {
        fixedHeaderByteCount + slotCount * slotByteCount + headerMACByteCount
    }
}

/// A 16-byte Poly1305 tag, stored inline so that indexing a million records allocates nothing per tag.
struct Tag: Hashable, Sendable {
    var low: UInt64
    var high: UInt64

    static let zero = Tag(low: 0, high: 0)

    init(low: UInt64, high: UInt64) {
        self.low = low
        self.high = high
    }

    init(_ bytes: UnsafeRawBufferPointer) {
        precondition(bytes.count == 16)
        low = bytes.loadUnaligned(fromByteOffset: 0, as: UInt64.self)
        high = bytes.loadUnaligned(fromByteOffset: 8, as: UInt64.self)
    }

    func append(to writer: inout ByteWriter) {
        withUnsafeBytes(of: self) { writer.append($0) }
    }
}
