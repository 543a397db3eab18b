internal import CSodium

/// Bytes that must never reach swap, a core dump or freed heap memory: passphrases, the master key,
/// its subkeys and secret values.
///
/// The storage comes from `sodium_malloc` (guard pages, `mlock`), is reachable only through scoped
/// closures and is wiped and released by `sodium_free` when the value goes away. The type is
/// non-copyable, so a secret has exactly one owner and is never duplicated by accident.
public struct SecureBytes: ~Copyable, @unchecked Sendable {
    private let base: UnsafeMutableRawPointer
    /// The number of bytes.
    public let count: Int

    /// Zero-filled secure storage of `count` bytes.
    public init(count: Int) {
        precondition(count >= 0, "negative SecureBytes count")
        Sodium.ensureInitialized()
        guard let pointer = sodium_malloc(Swift.max(count, 1)) else {
            fatalError("sodium_malloc(\(count)) failed: out of memory or of mappings")
        }
        sodium_memzero(pointer, Swift.max(count, 1))
        self.base = pointer
        self.count = count
    }

    /// Secure storage holding a copy of `bytes`. Prefer filling a `SecureBytes` in place: the source
    /// of this copy stays wherever it was.
    public init(copying bytes: some Collection<UInt8>) {
        self.init(count: bytes.count)
        var index = 0
        for byte in bytes {
            base.storeBytes(of: byte, toByteOffset: index, as: UInt8.self)
            index += 1
        }
    }

    /// Secure storage holding a copy of the given raw bytes.
    init(copying buffer: UnsafeRawBufferPointer) {
        self.init(count: buffer.count)
        if let source = buffer.baseAddress, buffer.count > 0 {
            base.copyMemory(from: source, byteCount: buffer.count)
        }
    }

    /// `count` bytes from the system's cryptographic random generator.
    public static func random(count: Int) -> SecureBytes {
        var bytes = SecureBytes(count: count)
        bytes.withUnsafeMutableBytes { Random.fill($0) }
        return bytes
    }

    deinit {
        sodium_free(base)
    }

    /// Whether the buffer holds no bytes.
    public var isEmpty: Bool { count == 0 }

    /// Calls `body` with read access to the bytes. Do not let the pointer escape.
    public func withUnsafeBytes<R: ~Copyable, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R
    {
        try body(UnsafeRawBufferPointer(start: base, count: count))
    }

    /// Calls `body` with write access to the bytes. Do not let the pointer escape.
    public mutating func withUnsafeMutableBytes<R: ~Copyable, E: Error>(
        _ body: (UnsafeMutableRawBufferPointer) throws(E) -> R
    ) throws(E) -> R {
        try body(UnsafeMutableRawBufferPointer(start: base, count: count))
    }

    /// A second secure buffer with the same bytes.
    public func duplicate() -> SecureBytes {
        withUnsafeBytes { SecureBytes(copying: $0) }
    }

    /// The first `length` bytes, in a new secure buffer.
    func prefix(_ length: Int) -> SecureBytes {
        precondition(length >= 0 && length <= count)
        return withUnsafeBytes { SecureBytes(copying: UnsafeRawBufferPointer(rebasing: $0[0..<length])) }
    }

    /// Constant-time equality.
    public func isEqual(to other: borrowing SecureBytes) -> Bool {
        withUnsafeBytes { mine in other.withUnsafeBytes { theirs in Sodium.constantTimeEqual(mine, theirs) } }
    }

    /// Constant-time comparison with plain bytes.
    func isEqual(to bytes: [UInt8]) -> Bool {
        withUnsafeBytes { mine in bytes.withUnsafeBytes { Sodium.constantTimeEqual(mine, $0) } }
    }

    /// The bytes as UTF-8 text, if they are valid UTF-8. The result lives on the ordinary heap:
    /// use it only where the caller needs a `String` anyway.
    public func utf8String() -> String? {
        withUnsafeBytes { raw in
            String(validating: raw.bindMemory(to: UInt8.self), as: UTF8.self)
        }
    }
}
