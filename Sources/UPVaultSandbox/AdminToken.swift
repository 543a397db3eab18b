import UPVault

/// The secret a caller of `/admin` must present, so that neither another user on the machine nor a web
/// page (CSRF, DNS rebinding) can flip the sandbox's switches or read its client secret.
///
/// `serve` draws a random token and writes it to a 0600 file (`--admin-token-file`, by default
/// `defaultPath(port:environment:)`); callers send it in the `X-Sandbox-Admin-Token` header. A browser
/// cannot add that header to a cross-site request without a CORS preflight, which the sandbox never
/// grants, and `/admin` also requires a loopback peer and a `Host` naming the loopback address and port.
public enum AdminToken {
    public static let headerName = "X-Sandbox-Admin-Token"

    /// A fresh random token.
    public static func generate() -> String { Provider.token() }

    /// `$XDG_RUNTIME_DIR/upvault-sandbox/admin-PORT.token`, else under `~/.local/state/upvault-sandbox`;
    /// nil when neither is an absolute path (then `--admin-token-file` is required).
    public static func defaultPath(port: Int, environment: [String: String]) -> String? {
        let name = "/upvault-sandbox/admin-\(port).token"
        if let runtime = environment["XDG_RUNTIME_DIR"], runtime.hasPrefix("/") { return runtime + name }
        if let home = environment["HOME"], home.hasPrefix("/"), home != "/" { return home + "/.local/state" + name }
        return nil
    }

    /// Writes `token` to `path`, 0600, its missing directories 0700.
    public static func write(_ token: String, to path: String) throws {
        try FileSystem.createPrivateParents(of: path)
        try FileSystem.writePrivateFile(Array((token + "\n").utf8), to: path)
    }

    /// The token in the file at `path`.
    public static func read(from path: String) throws -> String {
        let bytes = try FileSystem.readFile(path, maximum: 4096)
        return String(decoding: bytes, as: UTF8.self).split(whereSeparator: \.isNewline).first.map(String.init) ?? ""
    }
}
