internal import CSodium

/// libsodium's one-time initialisation. Every wrapper in this folder calls `Sodium.ensureInitialized()`
/// before its first use; nothing outside `Crypto/` imports CSodium.
package enum Sodium {
    private static let initialized: Bool = sodium_init() >= 0

    static func ensureInitialized() {
        // sodium_init() fails only when the system has no usable randomness source; nothing is safe then.
        precondition(initialized, "libsodium could not be initialised (no usable randomness source)")
    }

    /// Constant-time comparison of two equally long byte buffers.
    static func constantTimeEqual(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Bool {
        guard a.count == b.count else { return false }
        if a.isEmpty { return true }
        return sodium_memcmp(a.baseAddress!, b.baseAddress!, a.count) == 0
    }

    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        a.withUnsafeBytes { ra in b.withUnsafeBytes { rb in constantTimeEqual(ra, rb) } }
    }

    /// Overwrites memory with zeros in a way the compiler may not elide.
    package static func wipe(_ buffer: UnsafeMutableRawBufferPointer) {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return }
        sodium_memzero(base, buffer.count)
    }

    package static func wipe(_ array: inout [UInt8]) {
        array.withUnsafeMutableBytes { wipe($0) }
    }
}
