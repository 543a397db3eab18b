internal import CSodium

/// XChaCha20-Poly1305 (IETF construction, libsodium's `crypto_aead_xchacha20poly1305_ietf_*`):
/// 256-bit key, 192-bit random nonce, 128-bit tag appended to the ciphertext.
enum XChaCha20Poly1305 {
    static let keyByteCount = 32
    static let nonceByteCount = 24
    static let tagByteCount = 16

    /// Encrypts `plaintext`; the result is the ciphertext followed by the 16-byte tag.
    static func seal(
        _ plaintext: UnsafeRawBufferPointer,
        nonce: [UInt8],
        associatedData: [UInt8],
        using key: borrowing SecureBytes
    ) -> [UInt8] {
        precondition(nonce.count == nonceByteCount && key.count == keyByteCount)
        Sodium.ensureInitialized()
        var output = [UInt8](repeating: 0, count: plaintext.count + tagByteCount)
        var outputLength: UInt64 = 0
        let status = key.withUnsafeBytes { keyBytes in
            output.withUnsafeMutableBufferPointer { out in
                crypto_aead_xchacha20poly1305_ietf_encrypt(
                    out.baseAddress!, &outputLength,
                    plaintext.baseAddress?.assumingMemoryBound(to: UInt8.self), UInt64(plaintext.count),
                    associatedData, UInt64(associatedData.count),
                    nil, nonce, keyBytes.baseAddress!.assumingMemoryBound(to: UInt8.self))
            }
        }
        precondition(status == 0 && Int(outputLength) == output.count, "XChaCha20-Poly1305 encryption failed")
        return output
    }

    /// Decrypts and verifies `ciphertext` (ciphertext ‖ tag) into `plaintext`, which must hold exactly
    /// `ciphertext.count - 16` bytes. Returns false, with `plaintext` wiped, when the tag does not verify.
    static func open(
        _ ciphertext: UnsafeRawBufferPointer,
        nonce: UnsafeRawBufferPointer,
        associatedData: [UInt8],
        using key: borrowing SecureBytes,
        into plaintext: UnsafeMutableRawBufferPointer
    ) -> Bool {
        key.withUnsafeBytes { key in
            associatedData.withUnsafeBytes { ad in
                open(ciphertext, nonce: nonce, associatedData: ad, usingKeyBytes: key, into: plaintext)
            }
        }
    }

    /// `open` with the key's bytes (secure memory the caller holds open, shared by worker threads).
    static func open(
        _ ciphertext: UnsafeRawBufferPointer,
        nonce: UnsafeRawBufferPointer,
        associatedData: UnsafeRawBufferPointer,
        usingKeyBytes key: UnsafeRawBufferPointer,
        into plaintext: UnsafeMutableRawBufferPointer
    ) -> Bool {
        precondition(nonce.count == nonceByteCount && key.count == keyByteCount)
        guard ciphertext.count >= tagByteCount, plaintext.count == ciphertext.count - tagByteCount,
            let output = plaintext.baseAddress
        else { return false }
        Sodium.ensureInitialized()
        var outputLength: UInt64 = 0
        let status = crypto_aead_xchacha20poly1305_ietf_decrypt(
            output.assumingMemoryBound(to: UInt8.self), &outputLength, nil,
            ciphertext.baseAddress!.assumingMemoryBound(to: UInt8.self), UInt64(ciphertext.count),
            associatedData.baseAddress?.assumingMemoryBound(to: UInt8.self), UInt64(associatedData.count),
            nonce.baseAddress!.assumingMemoryBound(to: UInt8.self),
            key.baseAddress!.assumingMemoryBound(to: UInt8.self))
        guard status == 0, Int(outputLength) == plaintext.count else {
            Sodium.wipe(plaintext)
            return false
        }
        return true
    }
}
