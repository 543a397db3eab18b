public import UPVault

extension OAuthClient {
    /// Makes `newSecret` the app's current client secret at once. The previous current secret stays,
    /// marked valid until `previousValidUntil`, and is tried only when the provider answers the new one
    /// with `invalid_client`. Secrets whose window has ended are dropped, and then the vault compacted so that
    /// their values are gone from the file. Returns the app as stored.
    @discardableResult
    public func rotateSecret(app name: String, newSecret: String, previousValidUntil: Int64) throws(OAuthError) -> App {
        guard !newSecret.isEmpty, newSecret.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
            throw .invalidArgument("a client secret is one line of printable characters without spaces")
        }
        var app = try app(named: name)
        guard !app.isPublic else { throw .unsupported("app \(name) is a public client: it has no client secret") }
        let now = now()
        guard !app.clientSecrets.contains(where: { ConstantTime.equals($0.value, newSecret) }) else {
            throw .invalidArgument("app \(name) already has this client secret")
        }
        for index in app.clientSecrets.indices where app.clientSecrets[index].validUntil == nil {
            app.clientSecrets[index].validUntil = previousValidUntil
        }
        app.clientSecrets.insert(App.ClientSecret(value: newSecret, addedAt: now), at: 0)
        let before = app.clientSecrets.count
        app.clientSecrets.removeAll { ($0.validUntil ?? Int64.max) <= now }
        try vaultCall { try vault.put(app) }
        // Only a dropped secret needs its old records rewritten away; a rotation inside its window
        // leaves nothing to erase, and compacting a vault of 100,000 grants rewrites tens of megabytes.
        if app.clientSecrets.count < before { try vaultCall { try vault.compact() } }
        return app
    }

    /// Drops every app's secrets whose grace window has ended and compacts when any was dropped.
    /// Returns how many were dropped.
    @discardableResult
    public func pruneExpiredSecrets() throws(OAuthError) -> Int {
        let now = now()
        var dropped = 0
        let apps = try vaultCall { try vault.entries(App.self) }
        for var app in apps {
            let before = app.clientSecrets.count
            let current = app.currentSecret
            app.clientSecrets.removeAll { ($0.validUntil ?? Int64.max) <= now && $0 != current }
            guard app.clientSecrets.count < before else { continue }
            dropped += before - app.clientSecrets.count
            try vaultCall { try vault.put(app) }
        }
        if dropped > 0 { try vaultCall { try vault.compact() } }
        return dropped
    }
}
