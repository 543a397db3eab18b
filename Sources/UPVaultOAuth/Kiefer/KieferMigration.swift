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
        _ config: KieferConfig, into vault: any VaultStore, app name: String, user: String,
        preset: ProviderPreset = .jawbone,
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
        do {
            try FileSystem.shred(path)
        } catch .io(_, _, let code), .syncFailed(_, let code) {
            throw .shredFailed(path: path, errno: code)
        } catch .vaultNotFound {
            throw .shredFailed(path: path, errno: ENOENT)
        } catch {
            throw .shredFailed(path: path, errno: EINVAL)
        }
    }
}
