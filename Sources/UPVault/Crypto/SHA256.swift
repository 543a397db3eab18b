internal import CSodium

/// SHA-256 (`crypto_hash_sha256`), for PKCE challenges and client-secret fingerprints.
public enum SHA256 {
    public static let byteCount = 32

    public static func hash(_ message: some Sequence<UInt8>) -> [UInt8] {
        Sodium.ensureInitialized()
        let input = Array(message)
        var output = [UInt8](repeating: 0, count: byteCount)
        let status = crypto_hash_sha256(&output, input, UInt64(input.count))
        precondition(status == 0, "crypto_hash_sha256 failed")
        return output
    }
}
