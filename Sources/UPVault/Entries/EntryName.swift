/// The rules for entry names, so that names are safe in paths, references and terminal output.
///
/// Secret and app names, and each half of a grant name (`APP/USER`): 1 to 128 bytes of ASCII
/// letters, digits and `. _ - @ + :`, not starting with `.` or `-`.
public enum EntryName {
    public static let maximumLength = 128

    public static func validate(_ key: EntryKey) throws(VaultError) {
        switch key.kind {
        case .secret, .app, .refreshRun:
            try validateComponent(key.name, kind: key.kind)
        case .grant:
            let parts = key.name.split(separator: "/", omittingEmptySubsequences: false)
            guard parts.count == 2 else {
                throw .invalidName(kind: .grant, reason: "a grant is named APP/USER")
            }
            try validateComponent(String(parts[0]), kind: .grant)
            try validateComponent(String(parts[1]), kind: .grant)
        }
    }

    static func validateComponent(_ name: String, kind: EntryKind) throws(VaultError) {
        let bytes = Array(name.utf8)
        guard !bytes.isEmpty else { throw .invalidName(kind: kind, reason: "the name is empty") }
        guard bytes.count <= maximumLength else {
            throw .invalidName(kind: kind, reason: "the name is longer than \(maximumLength) bytes")
        }
        guard bytes.first != UInt8(ascii: ".") && bytes.first != UInt8(ascii: "-") else {
            throw .invalidName(kind: kind, reason: "the name starts with '.' or '-'")
        }
        for byte in bytes {
            let allowed =
                (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                || Array("._-@+:".utf8).contains(byte)
            guard allowed else {
                throw .invalidName(kind: kind, reason: "only letters, digits and . _ - @ + : are allowed")
            }
        }
    }
}
