/// Where a vault's anchor lives, and whether an older vault may be accepted.
///
/// An anchor is a small authenticated file outside the vault's directory that remembers how far the
/// vault's history had got (generation, committed records, last tag). Every open compares the vault
/// with it, and every commit moves it forward, so a vault put back in time (restored from a copy,
/// truncated to an earlier batch) is refused instead of served. `Vault/FORMAT.md` ("Anchor") is the
/// normative description; SECURITY.md says what it does and does not detect.
public struct VaultAnchors: Sendable, Equatable {
    /// The directory holding one anchor per vault (named after the vault id); nil: no anchor.
    public var directory: String?
    /// Accept a vault older than (or diverged from) its anchor, and move the anchor to it: after a
    /// deliberate restore from a backup (`upvault fsck --accept-restore`).
    public var acceptsOlderVault: Bool

    public init(directory: String?, acceptsOlderVault: Bool = false) {
        self.directory = directory
        self.acceptsOlderVault = acceptsOlderVault
    }

    /// No anchor: only the handle's own memory protects against a file put back in time.
    public static let disabled = VaultAnchors(directory: nil)

    /// The user's anchors: `$XDG_STATE_HOME/upvault/anchors`, else `~/.local/state/upvault/anchors`
    /// (none when neither `XDG_STATE_HOME` nor `HOME` is an absolute path).
    public static func forUser(environment: [String: String] = Vault.processEnvironment()) -> VaultAnchors {
        if let state = environment["XDG_STATE_HOME"], state.hasPrefix("/") {
            return VaultAnchors(directory: state + "/upvault/anchors")
        }
        if let home = environment["HOME"], home.hasPrefix("/"), home != "/" {
            return VaultAnchors(directory: home + "/.local/state/upvault/anchors")
        }
        return .disabled
    }

    /// The same location, accepting an older vault once.
    public func acceptingOlderVault() -> VaultAnchors {
        VaultAnchors(directory: directory, acceptsOlderVault: true)
    }

    /// The anchor file for the vault with this id.
    func path(for vaultID: [UInt8]) -> String? {
        directory.map { $0 + "/" + Hex.lowercase(vaultID) + ".anchor" }
    }
}
