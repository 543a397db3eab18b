/// A secure buffer behind a reference, for state that must live in a copyable container.
final class SecureBox: @unchecked Sendable {
    var bytes: SecureBytes

    init(_ bytes: consuming SecureBytes) {
        self.bytes = bytes
    }
}
