/// Where the vault lives: `--vault`, else `UPVAULT_PATH`, else `$XDG_DATA_HOME/upvault/vault.upv`,
/// else `~/.local/share/upvault/vault.upv`.
public enum VaultLocation {
    public static func resolve(explicit: String?, environment: [String: String]) -> String {
        if let explicit, !explicit.isEmpty { return explicit }
        if let path = environment["UPVAULT_PATH"], !path.isEmpty { return path }
        if let data = environment["XDG_DATA_HOME"], data.hasPrefix("/") { return data + "/upvault/vault.upv" }
        let home = environment["HOME"] ?? "/"
        return home + "/.local/share/upvault/vault.upv"
    }
}
