internal import CSodium

/// Subkeys of the master key through `crypto_kdf_derive_from_key` (BLAKE2b), one numbered subkey
/// per purpose, all under the 8-byte context `UPVault1`.
enum KeyDerivation {
    static let masterKeyByteCount = 32
    static let context: [UInt8] = Array("UPVault1".utf8)

    static func deriveSubkey(
        id: UInt64,
        context: [UInt8] = KeyDerivation.context,
        byteCount: Int = 32,
        from masterKey: borrowing SecureBytes
    ) -> SecureBytes {
        precondition(context.count == Int(crypto_kdf_CONTEXTBYTES) && masterKey.count == Int(crypto_kdf_KEYBYTES))
        precondition(byteCount >= Int(crypto_kdf_BYTES_MIN) && byteCount <= Int(crypto_kdf_BYTES_MAX))
        Sodium.ensureInitialized()
        var subkey = SecureBytes(count: byteCount)
        let cContext = context.map { CChar(bitPattern: $0) }
        let status = masterKey.withUnsafeBytes { master in
            subkey.withUnsafeMutableBytes { out in
                crypto_kdf_derive_from_key(
                    out.baseAddress!.assumingMemoryBound(to: UInt8.self), byteCount, id, cContext,
                    master.baseAddress!.assumingMemoryBound(to: UInt8.self))
            }
        }
        precondition(status == 0, "crypto_kdf_derive_from_key failed")
        return subkey
    }
}
