import Logging
public import UPVault

/// The client-credentials grant (RFC 6749 §4.4): an app-level token, no user, no refresh token.
extension OAuthClient {
    /// Obtains an app token with the client's own credentials and stores it as grant `APP/@app`
    /// (replacing an older one). `token --app APP` then returns it, requesting a new one shortly before
    /// it expires, single-flight like a user's grant. `scopes` default to the app's.
    @discardableResult
    public func loginClientCredentials(app name: String, scopes: [String]? = nil) async throws(OAuthError) -> Grant {
        let app = try app(named: name)
        guard !app.isPublic else {
            throw .unsupported("app \(name) is a public client: the client-credentials grant needs a client secret")
        }
        let scope = (scopes ?? app.scopes).joined(separator: " ")
        let key = EntryKey(.grant, "\(name)/\(Grant.appUser)")
        do {
            return try await flights.run(key.name) {
                try await self.vault.withEntryLock(key) {
                    let (response, secret) = try await self.tokenRequest(
                        app: app, fields: Self.clientCredentialsFields(scope))
                    let issued = self.now()
                    var grant = Grant(
                        app: name, user: Grant.appUser, accessToken: response.accessToken, refreshToken: nil,
                        tokenType: response.tokenType, scope: response.scope ?? (scope.isEmpty ? nil : scope),
                        issuedAt: issued, expiresAt: response.expiresIn.map { issued + $0 },
                        secretFingerprint: secret?.fingerprint(clientID: app.clientID))
                    grant.grantType = .clientCredentials
                    try self.store(grant)
                    self.logger.info("client-credentials token stored", metadata: ["app": "\(name)"])
                    return grant
                }
            }
        } catch {
            throw Self.oauthError(error)
        }
    }

    static func clientCredentialsFields(_ scope: String?) -> [(String, String)] {
        var fields = [("grant_type", "client_credentials")]
        if let scope, !scope.isEmpty { fields.append(("scope", scope)) }
        return fields
    }

    /// A new app token for a client-credentials grant (the caller holds the grant's lock). Nothing is
    /// redeemed, so nothing is marked before the request: asking again is always safe.
    func renewClientCredentials(_ grant: Grant, app: App) async throws(OAuthError) -> Grant {
        let (response, secret) = try await tokenRequest(app: app, fields: Self.clientCredentialsFields(grant.scope))
        var renewed = grant.refreshed(
            with: response, at: now(), fingerprint: secret?.fingerprint(clientID: app.clientID))
        renewed.refreshToken = nil  // never used for this grant: not kept
        try store(renewed)
        logger.info("client-credentials token renewed", metadata: ["grant": "\(grant.entryName)"])
        return renewed
    }
}
