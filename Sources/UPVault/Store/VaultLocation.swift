/// Where the vault lives: `--vault`, else `UPVAULT_PATH`, else `$XDG_DATA_HOME/upvault/vault.upv`,
/// else `~/.local/share/upvault/vault.upv`.
public enum VaultLocation {
    /// True when `location` is a URL (`scheme://...`, a vault in a database) rather than a file path: an
    /// agent serving it compares it as written, and a file system check does not apply.
    public static func isURL(_ location: String) -> Bool {
        guard let separator = location.utf8.firstIndex(of: UInt8(ascii: ":")) else { return false }
        let scheme = location.utf8[..<separator]
        return !scheme.isEmpty && scheme.allSatisfy { ($0 | 0x20) >= 0x61 && ($0 | 0x20) <= 0x7a }
            && location.utf8[separator...].starts(with: "://".utf8)
    }

    public static func resolve(explicit: String?, environment: [String: String]) -> String {
        if let explicit, !explicit.isEmpty { return explicit }
        if let path = environment["UPVAULT_PATH"], !path.isEmpty { return path }
        if let data = environment["XDG_DATA_HOME"], data.hasPrefix("/") { return data + "/upvault/vault.upv" }
        let home = environment["HOME"] ?? "/"
        return home + "/.local/share/upvault/vault.upv"
    }
}
