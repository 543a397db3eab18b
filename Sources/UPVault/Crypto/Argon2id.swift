internal import CSodium
import Synchronization

/// Argon2id (version 1.3) through `crypto_pwhash`, with the algorithm always passed explicitly so a
/// change of libsodium's default can never change what a vault's key slot means.
enum Argon2id {
    static let saltByteCount = 16
    /// The `alg` value stored in key slots: `crypto_pwhash_ALG_ARGON2ID13`.
    static let algorithmIdentifier: UInt8 = 2

    /// Counts the derivations run in a task that sets one, so a test can prove that a hostile header is
    /// refused before any Argon2id run (instead of timing it).
    final class Counter: Sendable {
        let runs = Atomic<Int>(0)
    }

    @TaskLocal static var counter: Counter?

    /// Derives `outputByteCount` bytes from `passphrase` and `salt`. The caller has already checked the
    /// parameters against its bounds; libsodium's own limits are checked again here.
    static func deriveKey(
        from passphrase: borrowing SecureBytes,
        salt: [UInt8],
        parameters: KDFParameters,
        outputByteCount: Int = 32
    ) throws(CryptoError) -> SecureBytes {
        precondition(salt.count == saltByteCount)
        precondition(Int32(crypto_pwhash_ALG_ARGON2ID13) == Int32(algorithmIdentifier))
        Sodium.ensureInitialized()
        counter?.runs.wrappingAdd(1, ordering: .relaxed)
        var key = SecureBytes(count: outputByteCount)
        let status = passphrase.withUnsafeBytes { pass in
            key.withUnsafeMutableBytes { out in
                crypto_pwhash(
                    out.baseAddress!.assumingMemoryBound(to: UInt8.self), UInt64(outputByteCount),
                    pass.baseAddress!.assumingMemoryBound(to: CChar.self), UInt64(pass.count),
                    salt,
                    UInt64(parameters.opsLimit), Int(parameters.memLimit),
                    crypto_pwhash_ALG_ARGON2ID13)
            }
        }
        guard status == 0 else { throw .keyDerivationFailed }
        return key
    }
}
