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
            let name = key.name.utf8
            guard let slash = name.firstIndex(of: UInt8(ascii: "/")),
                !name[name.index(after: slash)...].contains(UInt8(ascii: "/"))
            else { throw .invalidName(kind: .grant, reason: "a grant is named APP/USER") }
            try validateComponent(Substring(name[..<slash]), kind: .grant)
            try validateComponent(Substring(name[name.index(after: slash)...]), kind: .grant)
        }
    }

    static func validateComponent(_ name: some StringProtocol, kind: EntryKind) throws(VaultError) {
        let bytes = name.utf8
        guard let first = bytes.first else { throw .invalidName(kind: kind, reason: "the name is empty") }
        guard bytes.count <= maximumLength else {
            throw .invalidName(kind: kind, reason: "the name is longer than \(maximumLength) bytes")
        }
        guard first != UInt8(ascii: ".") && first != UInt8(ascii: "-") else {
            throw .invalidName(kind: kind, reason: "the name starts with '.' or '-'")
        }
        for byte in bytes where !isAllowed(byte) {
            throw .invalidName(kind: kind, reason: "only letters, digits and . _ - @ + : are allowed")
        }
    }

    private static func isAllowed(_ byte: UInt8) -> Bool {
        switch byte {
        case 0x30...0x39, 0x41...0x5A, 0x61...0x7A: true
        case UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "-"), UInt8(ascii: "@"), UInt8(ascii: "+"),
            UInt8(ascii: ":"):
            true
        default: false
        }
    }
}
