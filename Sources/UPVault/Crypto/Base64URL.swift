internal import CSodium

/// Base64 through libsodium's constant-time codec: url-safe without padding (RFC 4648 section 5) by
/// default, or the original alphabet with padding (section 4, for HTTP Basic credentials).
public enum Base64URL {
    public static func encode(_ bytes: some Sequence<UInt8>, original: Bool = false) -> String {
        Sodium.ensureInitialized()
        let input = Array(bytes)
        let variant = Int32(original ? sodium_base64_VARIANT_ORIGINAL : sodium_base64_VARIANT_URLSAFE_NO_PADDING)
        let capacity = sodium_base64_encoded_len(input.count, variant)
        var output = [CChar](repeating: 0, count: capacity)
        _ = sodium_bin2base64(&output, capacity, input, input.count, variant)
        let text = output.withUnsafeBufferPointer { buffer in
            String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
        return text
    }

    /// A fresh random value of `byteCount` bytes, encoded: OAuth `state`, PKCE verifiers, test tokens.
    public static func randomToken(byteCount: Int = 32) -> String {
        var bytes = Random.bytes(byteCount)
        defer { Sodium.wipe(&bytes) }
        return encode(bytes)
    }
}

extension Base64URL {
    /// Decodes what `encode` produced (same variant); nil for anything else.
    public static func decode(_ text: String, original: Bool = false) -> [UInt8]? {
        Sodium.ensureInitialized()
        let variant = Int32(original ? sodium_base64_VARIANT_ORIGINAL : sodium_base64_VARIANT_URLSAFE_NO_PADDING)
        let input = Array(text.utf8)
        var output = [UInt8](repeating: 0, count: input.count / 4 * 3 + 3)
        var length = 0
        let status = input.withUnsafeBufferPointer { chars in
            chars.withMemoryRebound(to: CChar.self) { chars in
                sodium_base642bin(&output, output.count, chars.baseAddress, chars.count, nil, &length, nil, variant)
            }
        }
        guard status == 0 else { return nil }
        return Array(output.prefix(length))
    }
}
