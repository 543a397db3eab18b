internal import CSodium

/// Keyed BLAKE2b (`crypto_generichash`) used as a MAC: 32-byte key, 32-byte output.
enum BLAKE2b {
    static let macByteCount = 32

    static func authenticationCode(for message: UnsafeRawBufferPointer, using key: borrowing SecureBytes) -> [UInt8] {
        Sodium.ensureInitialized()
        var output = [UInt8](repeating: 0, count: macByteCount)
        let status = key.withUnsafeBytes { keyBytes in
            crypto_generichash(
                &output, macByteCount,
                message.baseAddress?.assumingMemoryBound(to: UInt8.self), UInt64(message.count),
                keyBytes.baseAddress!.assumingMemoryBound(to: UInt8.self), keyBytes.count)
        }
        precondition(status == 0, "crypto_generichash failed")
        return output
    }

    static func authenticationCode(for message: [UInt8], using key: borrowing SecureBytes) -> [UInt8] {
        message.withUnsafeBytes { authenticationCode(for: $0, using: key) }
    }

    /// Checks a code in constant time.
    static func isValid(
        _ code: UnsafeRawBufferPointer, for message: UnsafeRawBufferPointer, using key: borrowing SecureBytes
    ) -> Bool {
        let expected = authenticationCode(for: message, using: key)
        return expected.withUnsafeBytes { Sodium.constantTimeEqual($0, code) }
    }
}

extension BLAKE2b {
    /// Keyed BLAKE2b-256 whose output is itself key material: written straight into secure memory.
    static func derivedKey(for message: [UInt8], using key: borrowing SecureBytes) -> SecureBytes {
        Sodium.ensureInitialized()
        var output = SecureBytes(count: macByteCount)
        let status = key.withUnsafeBytes { keyBytes in
            output.withUnsafeMutableBytes { out in
                crypto_generichash(
                    out.baseAddress!.assumingMemoryBound(to: UInt8.self), macByteCount,
                    message, UInt64(message.count),
                    keyBytes.baseAddress!.assumingMemoryBound(to: UInt8.self), keyBytes.count)
            }
        }
        precondition(status == 0, "crypto_generichash failed")
        return output
    }
}
