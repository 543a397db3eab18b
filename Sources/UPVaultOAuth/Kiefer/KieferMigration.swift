public import UPVault

#if canImport(Glibc)
import Glibc
#endif

/// Moving credentials from a kiefer `config.json` into the vault, and back out on request.
public enum KieferMigration {
    /// What an import stored.
    public struct Result: Sendable {
        public var app: App
        /// Nil when the config held no access token.
        public var grant: Grant?
    }

    /// Stores the config's app (jawbone preset unless `preset`/`endpoints` say otherwise) and, when it
    /// holds an access token, a grant for `user` with an unknown expiry. App and grant are written in
    /// one durable batch: when this returns, both are on disk.
    ///
    /// An existing app of that name must have the same client id; a new client secret is added as
    /// current. An existing grant is replaced only with `replace`.
    public static func importConfig(
        _ config: KieferConfig, into vault: any VaultStore, app name: String, user: String, preset: ProviderPreset = .jawbone,
        endpoints: App.Endpoints? = nil, replace: Bool = false, now: Int64
    ) throws -> Result {
        guard let endpoints = endpoints ?? preset.endpoints else {
            throw OAuthError.invalidArgument("the \(preset.name) provider needs its endpoints given")
        }
        var app = App(
            name: name, provider: preset.name, clientID: config.clientID,
            clientSecrets: [App.ClientSecret(value: config.clientSecret, addedAt: now)],
            redirectURI: config.redirectURI, scopes: config.scope.isEmpty ? preset.defaultScopes : config.scope,
            endpoints: endpoints, clientAuthentication: preset.clientAuthentication,
            supportsPKCE: preset.supportsPKCE, rotatesRefreshTokens: preset.rotatesRefreshTokens)
        try EndpointPolicy.check(app)
        if let existing = try vault.entry(App.self, named: name) {
            guard existing.clientID == config.clientID else { throw KieferError.appConflict(name) }
            app = existing
            if !app.clientSecrets.contains(where: { $0.value == config.clientSecret }) {
                app.clientSecrets.insert(App.ClientSecret(value: config.clientSecret, addedAt: now), at: 0)
            }
        }
        var grant: Grant?
        if let access = config.accessToken {
            let candidate = Grant(
                app: name, user: user, accessToken: access, refreshToken: config.refreshToken,
                scope: config.scope.joined(separator: " "), issuedAt: now, expiresAt: nil,
                secretFingerprint: app.currentSecretFingerprint,
                statusReason: nil)
            try EntryName.validate(EntryKey(.grant, candidate.entryName))
            if !replace, try vault.contains(EntryKey(.grant, candidate.entryName)) {
                throw KieferError.grantExists(candidate.entryName)
            }
            grant = candidate
        }
        try vault.write { transaction in
            try transaction.put(app)
            if let grant { try transaction.put(grant) }
        }
        return Result(app: app, grant: grant)
    }

    /// The kiefer config for an app and, optionally, one of its grants: with the secrets in clear.
    public static func exportConfig(app: App, grant: Grant?) -> KieferConfig {
        KieferConfig(
            clientID: app.clientID, clientSecret: app.currentSecret?.value ?? "", redirectURI: app.redirectURI,
            scope: app.scopes, accessToken: grant?.accessToken, refreshToken: grant?.refreshToken)
    }

    /// Overwrites a file with zeros, syncs, removes it and syncs its directory. On a journaling or
    /// copy-on-write file system, or an SSD, old blocks may survive elsewhere (SECURITY.md); this
    /// removes the file and its contents from every ordinary view.
    public static func shred(path: String) throws(KieferError) {
        let fd = Glibc.open(path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { throw .shredFailed(path: path, errno: errno) }
        var info = stat()
        guard fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFREG else {
            close(fd)
            throw .shredFailed(path: path, errno: EINVAL)
        }
        let zeros = [UInt8](repeating: 0, count: 4096)
        var remaining = Int(info.st_size)
        var offset: off_t = 0
        while remaining > 0 {
            let n = zeros.withUnsafeBytes { pwrite(fd, $0.baseAddress!, min(remaining, 4096), offset) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else {
                let code = errno
                close(fd)
                throw .shredFailed(path: path, errno: code)
            }
            remaining -= n
            offset += off_t(n)
        }
        guard fsync(fd) == 0 else {
            let code = errno
            close(fd)
            throw .shredFailed(path: path, errno: code)
        }
        close(fd)
        guard unlink(path) == 0 else { throw .shredFailed(path: path, errno: errno) }
        let directory = path.lastIndex(of: "/").map { path[..<$0].isEmpty ? "/" : String(path[..<$0]) } ?? "."
        let dirfd = Glibc.open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dirfd >= 0 {
            _ = fsync(dirfd)
            close(dirfd)
        }
    }
}
