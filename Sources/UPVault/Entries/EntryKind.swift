/// What an entry is. The kind is stored inside each record's ciphertext, with the name.
public enum EntryKind: UInt8, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// Any named secret value (`Secret`).
    case secret = 1
    /// An OAuth client registration (`App`).
    case app = 2
    /// One user's tokens for one app (`Grant`), named `APP/USER`.
    case grant = 3
    /// The journal of a bulk run in progress (`RefreshRun` named `current`, `RevokeRun` named `revoke`),
    /// so an interrupted run can be found and resumed.
    case refreshRun = 4

    public var description: String {
        switch self {
        case .secret: "secret"
        case .app: "app"
        case .grant: "grant"
        case .refreshRun: "refresh run"
        }
    }
}

/// The key of an entry in the vault's index.
///
/// Names are compared as UTF-8 bytes (Vault/FORMAT.md, "Entries"): two names that Unicode calls
/// canonically equivalent but that are spelled with different bytes are two entries, exactly as a
/// byte-comparing reader of the format sees them (Swift's `String ==` would have merged them).
public struct EntryKey: Hashable, Sendable, CustomStringConvertible {
    public var kind: EntryKind
    public var name: String

    public init(_ kind: EntryKind, _ name: String) {
        self.kind = kind
        self.name = name
    }

    public var description: String { "\(kind)/\(name)" }

    public static func == (lhs: EntryKey, rhs: EntryKey) -> Bool {
        lhs.kind == rhs.kind && EntryName.same(lhs.name, rhs.name)
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(kind)
        var contiguous = name
        contiguous.makeContiguousUTF8()  // free for native strings; the same bytes hash the same way
        contiguous.utf8.withContiguousStorageIfAvailable { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
    }
}

extension EntryName {
    /// The order of names everywhere (listings, pages, rewrites): by their UTF-8 bytes.
    public static func precedes(_ lhs: String, _ rhs: String) -> Bool {
        lhs.utf8.lexicographicallyPrecedes(rhs.utf8)
    }

    /// Whether two names are the same name: the same UTF-8 bytes. Compared in place when both strings
    /// hold their bytes contiguously (native ones do: every key of an index lookup), else byte by byte.
    public static func same(_ lhs: String, _ rhs: String) -> Bool {
        let contiguous = lhs.utf8.withContiguousStorageIfAvailable { left in
            rhs.utf8.withContiguousStorageIfAvailable { right in
                left.count == right.count && left.elementsEqual(right)
            }
        }
        if let contiguous, let equal = contiguous { return equal }
        return lhs.utf8.elementsEqual(rhs.utf8)
    }
}
