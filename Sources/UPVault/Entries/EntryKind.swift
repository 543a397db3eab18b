/// What an entry is. The kind is stored inside each record's ciphertext, with the name.
public enum EntryKind: UInt8, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// Any named secret value (`Secret`).
    case secret = 1
    /// An OAuth client registration (`App`).
    case app = 2
    /// One user's tokens for one app (`Grant`), named `APP/USER`.
    case grant = 3
    /// The journal of a bulk refresh in progress (`RefreshRun`), so an interrupted run can be found and resumed.
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
public struct EntryKey: Hashable, Sendable, CustomStringConvertible {
    public var kind: EntryKind
    public var name: String

    public init(_ kind: EntryKind, _ name: String) {
        self.kind = kind
        self.name = name
    }

    public var description: String { "\(kind)/\(name)" }
}
