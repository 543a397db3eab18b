public import Logging
public import UPVault

#if canImport(Glibc)
import Glibc
#endif

/// The OAuth 2.0 flows on a vault: what kiefer's `KieferAuth` did, with every token kept in the vault.
///
/// - `authorize(app:)` and `completeAuthorization(_:redirectURL:user:)`: the login (authorization code
///   flow with `state`, and PKCE where the provider supports it).
/// - `accessToken(app:user:minimumValidity:)`: a valid access token, refreshed first when it expires
///   within the margin; single-flight per grant across threads and processes.
/// - `refresh(app:user:)`, `recoverRefreshToken(app:user:)`, `setRefreshToken(_:app:user:)`.
/// - `request(app:user:method:path:fields:)`: an authorized API call, refreshed once on 401.
///
/// New tokens are durable in the vault (written and `fdatasync`ed) before any of these returns them.
/// Call `shutdown()` when done: it closes the HTTP client's connections, if one was started.
public final class OAuthClient: Sendable {
    /// The vault itself, or the agent serving it.
    public let vault: any VaultStore
    let transport: any HTTPTransport
    let logger: Logger
    let now: @Sendable () -> Int64
    /// Waits between polls (device login) and pacing steps; the tests' clock replaces it.
    let sleep: @Sendable (Duration) async throws -> Void
    let flights = SingleFlight()

    /// - Parameters:
    ///   - connectionsPerHost: the HTTP connection pool's size for one provider.
    ///   - logger: where the flows log (endpoint hosts and statuses at debug level; never tokens,
    ///     codes, secrets or bodies). The library never configures logging itself.
    public convenience init(vault: any VaultStore, connectionsPerHost: Int = 16, logger: Logger = Vault.silentLogger) {
        self.init(
            vault: vault, transport: AsyncHTTPTransport(connectionsPerHost: connectionsPerHost, logger: logger),
            logger: logger, now: { Self.unixTime() })
    }

    init(
        vault: any VaultStore, transport: any HTTPTransport, logger: Logger, now: @escaping @Sendable () -> Int64,
        sleep: @escaping @Sendable (Duration) async throws -> Void = { try await Task.sleep(for: $0) }
    ) {
        self.vault = vault
        self.transport = transport
        self.logger = logger
        self.now = now
        self.sleep = sleep
    }

    /// Closes the HTTP client, if one was started.
    public func shutdown() async {
        await transport.shutdown()
    }

    static func unixTime() -> Int64 {
        Int64(Glibc.time(nil))
    }

    // MARK: Entries

    public func app(named name: String) throws(OAuthError) -> App {
        guard let app = try vaultCall({ try vault.entry(App.self, named: name) }) else {
            throw .vault(.entryNotFound(EntryKey(.app, name)))
        }
        return app
    }

    public func grant(app: String, user: String) throws(OAuthError) -> Grant {
        let name = "\(app)/\(user)"
        guard let grant = try vaultCall({ try vault.entry(Grant.self, named: name) }) else {
            throw .vault(.entryNotFound(EntryKey(.grant, name)))
        }
        return grant
    }

    func store(_ grant: Grant) throws(OAuthError) {
        try vaultCall { try vault.put(grant) }
    }

    /// Stores `grant` only if the vault still holds `expected`, read at `version` (compare-and-set: a
    /// writer that lost its lock, or a second host, can never overwrite newer tokens; another process's
    /// compaction is no conflict, see `VaultStore.putReturningVersion(_:ifVersion:holding:)`), and
    /// returns the version it has now. `VaultError.conflict` when someone else wrote it in between.
    func store(
        _ grant: Grant, replacing version: EntryVersion, holding expected: Grant
    ) throws(OAuthError)
        -> EntryVersion
    {
        try vaultCall { try vault.putReturningVersion(grant, ifVersion: version, holding: expected) }
    }

    /// A grant with the version it was read at.
    func versionedGrant(app: String, user: String) throws(OAuthError) -> (grant: Grant, version: EntryVersion) {
        let name = "\(app)/\(user)"
        guard let found = try vaultCall({ try vault.versionedEntry(Grant.self, named: name) }) else {
            throw .vault(.entryNotFound(EntryKey(.grant, name)))
        }
        return (found.entry, found.version)
    }

    // MARK: Login

    /// Starts a login: the URL for the user to open, with a fresh `state` (and PKCE verifier).
    /// `redirectURI` replaces the app's own (a loopback listener's actual port).
    public func authorize(app name: String, redirectURI: String? = nil) throws(OAuthError) -> AuthorizationRequest {
        try AuthorizationRequest(app: app(named: name), redirectURI: redirectURI)
    }

    /// Finishes a login from the redirect URL the provider sent the browser to: checks it, exchanges
    /// the code, and stores the grant for `user` (replacing an older grant of that user).
    public func completeAuthorization(
        _ request: AuthorizationRequest, redirectURL: String, user: String
    ) async throws(OAuthError) -> Grant {
        let app = try app(named: request.app)
        let code = try request.authorizationCode(from: redirectURL)
        var fields = [("grant_type", "authorization_code"), ("code", code), ("redirect_uri", request.redirectURI)]
        if let verifier = request.codeVerifier { fields.append(("code_verifier", verifier)) }
        let (response, secret) = try await tokenRequest(app: app, fields: fields)
        return try storeNewGrant(app: app, user: user, response: response, secret: secret)
    }

    /// The grant a login obtained, stored for `user` (replacing an older grant of that user).
    func storeNewGrant(
        app: App, user: String, response: TokenResponse, secret: App.ClientSecret?
    ) throws(OAuthError) -> Grant {
        guard user != Grant.appUser else {
            throw .invalidArgument(
                "the user label \(Grant.appUser) is the app's own grant (login --client-credentials)")
        }
        let issued = now()
        let grant = Grant(
            app: app.name, user: user, accessToken: response.accessToken, refreshToken: response.refreshToken,
            tokenType: response.tokenType, scope: response.scope ?? app.scopes.joined(separator: " "),
            issuedAt: issued, expiresAt: response.expiresIn.map { issued + $0 },
            secretFingerprint: secret?.fingerprint(clientID: app.clientID))
        try validateName(grant)
        try store(grant)
        logger.info("login complete", metadata: ["app": "\(app.name)", "user": "\(user)"])
        return grant
    }

    /// Finishes a login from redirects received by `listener`. Any local process can reach a loopback
    /// port, so a redirect whose `state` does not match is ignored (and logged) rather than ending the
    /// login; the first matching one is exchanged. Throws `transport` when none arrives in `timeout`.
    public func completeAuthorization(
        _ request: AuthorizationRequest, listener: LoopbackListener, user: String, timeout: Duration
    ) async throws(OAuthError) -> Grant {
        let redirects = listener.redirectURLs
        let logger = self.logger
        let matching: String? = await withTaskGroup(of: String?.self) { group in
            group.addTask {
                for await url in redirects {
                    do throws(OAuthError) {
                        _ = try request.authorizationCode(from: url)
                        return url
                    } catch .stateMismatch {
                        logger.warning("ignored a redirect with a foreign state on the loopback listener")
                    } catch {
                        return url  // an error the provider sent (access_denied): completing reports it
                    }
                }
                return nil
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
        }
        guard let matching else { throw .transport("no redirect with this login's state arrived within \(timeout)") }
        return try await completeAuthorization(request, redirectURL: matching, user: user)
    }

    // MARK: Tokens

    /// A valid access token for the grant, refreshed first when it expires within `minimumValidity`.
    /// A grant whose expiry is unknown (imported) is returned as it is; `request` refreshes it on 401.
    public func accessToken(
        app: String, user: String, minimumValidity: Duration = .seconds(300)
    ) async throws(OAuthError) -> String {
        let margin = minimumValidity.components.seconds
        let grant = try grant(app: app, user: user)
        try Self.requireActive(grant)
        if grant.isFresh(at: now(), margin: margin) { return grant.accessToken }
        return try await refresh(grant, unless: { $0.isFresh(at: self.now(), margin: margin) }).accessToken
    }

    /// The grant's access token when it is valid for `minimumValidity` more (or its expiry is unknown), read
    /// without suspending; nil when it needs a refresh first (`accessToken` does that).
    public func freshAccessToken(
        app: String, user: String, minimumValidity: Duration = .seconds(300)
    ) throws(OAuthError) -> String? {
        let grant = try grant(app: app, user: user)
        try Self.requireActive(grant)
        return grant.isFresh(at: now(), margin: minimumValidity.components.seconds) ? grant.accessToken : nil
    }

    /// Refreshes the grant now, whatever its expiry.
    @discardableResult
    public func refresh(app: String, user: String) async throws(OAuthError) -> Grant {
        let grant = try grant(app: app, user: user)
        try Self.requireActive(grant)
        return try await refresh(grant, unless: { _ in false })
    }

    /// Refreshes `observed` under the grant's lock, unless `skip` holds for what the vault holds once
    /// the lock is taken, or another process already replaced the observed access token.
    ///
    /// `observedVersion`, when the caller read `observed` with its version (a campaign's claim), saves the
    /// read under the lock: the first write is conditional on it, so a change in between is a conflict.
    /// `app`, when given, is used instead of reading the app again.
    func refresh(
        _ observed: Grant, unless skip: @escaping @Sendable (Grant) -> Bool, observedVersion: EntryVersion? = nil,
        app: App? = nil
    ) async throws(OAuthError) -> Grant {
        let key = EntryKey(.grant, observed.entryName)
        do {
            return try await flights.run(key.name) {
                try await self.vault.withEntryLock(key) {
                    let (current, version) =
                        try observedVersion.map { (observed, $0) }
                        ?? self.versionedGrant(app: observed.app, user: observed.user)
                    try Self.requireActive(current)
                    if skip(current) || current.accessToken != observed.accessToken {
                        self.logger.debug("refresh skipped: already done elsewhere", metadata: ["grant": "\(key.name)"])
                        return current
                    }
                    return try await self.performRefresh(current, version: version, app: app)
                }
            }
        } catch {
            throw Self.oauthError(error)
        }
    }

    /// One refresh at the provider, persisted before it returns. `invalid_grant` marks the grant as
    /// needing re-authorization and `access_denied` as revoked; neither deletes it.
    ///
    /// A refresh token is never sent twice when it may already have been redeemed: the grant is marked
    /// (`refreshStartedAt`, durably) before the request leaves. A refresher that finds the mark on a
    /// grant of an app whose provider rotates refresh tokens does not send the old token again (a
    /// provider that detects reuse revokes every token of the user); it marks the grant as needing
    /// re-authorization, with the reason. A provider that does not rotate gets the token again.
    ///
    /// Every write is conditional on the grant read before it (`store(_:replacing:holding:)`): the mark
    /// is the claim, so of two refreshers that read the same version only one sends the refresh token,
    /// even when their entry lock failed them (another host whose database connection broke).
    func performRefresh(_ grant: Grant, version: EntryVersion, app known: App? = nil) async throws(OAuthError) -> Grant
    {
        let app: App
        if let known { app = known } else { app = try self.app(named: grant.app) }
        if grant.grantType == .clientCredentials { return try await renewClientCredentials(grant, app: app) }
        guard let refreshToken = grant.refreshToken else { throw .noRefreshToken(grant: grant.entryName) }
        var clean = grant
        clean.refreshStartedAt = nil
        if grant.refreshStartedAt != nil {
            if let marked = grant.cutOff(rotating: app.rotatesRefreshTokens) {
                _ = try store(marked, replacing: version, holding: grant)
                logger.warning(
                    "a refresh was interrupted; not sending its token again", metadata: ["grant": "\(grant.entryName)"])
                throw .invalidGrant(grant: grant.entryName, reason: Self.interruptedReason)
            }
            logger.notice("retrying an interrupted refresh", metadata: ["grant": "\(grant.entryName)"])
        }
        var started = clean
        started.refreshStartedAt = now()
        let markedVersion = try store(started, replacing: version, holding: grant)
        logger.debug("refresh request in flight", metadata: ["grant": "\(grant.entryName)"])
        let response: TokenResponse
        let secret: App.ClientSecret?
        do {
            (response, secret) = try await tokenRequest(
                app: app, fields: [("grant_type", "refresh_token"), ("refresh_token", refreshToken)])
        } catch .providerError(let code, let reason, _) where code == "invalid_grant" || code == "access_denied" {
            var marked = clean
            marked.status = code == "invalid_grant" ? .needsReauthorization : .revoked
            marked.statusReason = "\(code): \(reason)"
            _ = try store(marked, replacing: markedVersion, holding: started)
            logger.warning(
                "grant needs re-authorization", metadata: ["grant": "\(grant.entryName)", "error": "\(code)"])
            if code == "invalid_grant" { throw .invalidGrant(grant: grant.entryName, reason: reason) }
            throw .grantNotActive(grant: grant.entryName, status: .revoked, reason: marked.statusReason)
        } catch .transport(let reason) where !AsyncHTTPTransport.neverSent(reason) {
            throw .transport(reason)  // the answer was lost: the mark stays (the token may be spent)
        } catch {
            // Answered, or never sent: nothing was redeemed.
            _ = try? store(clean, replacing: markedVersion, holding: started)
            throw error
        }
        let refreshed = clean.refreshed(
            with: response, at: now(), fingerprint: secret?.fingerprint(clientID: app.clientID))
        _ = try store(refreshed, replacing: markedVersion, holding: started)
        logger.info("refreshed", metadata: ["grant": "\(grant.entryName)"])
        return refreshed
    }

    static let interruptedReason =
        "interrupted: a refresh was cut off after its request may have reached the provider, which rotates "
        + "refresh tokens; sending the old one again could revoke all of the user's tokens, so log in again"

    /// Stores a refresh token obtained elsewhere (kiefer's `set_refresh_token`).
    public func setRefreshToken(_ token: String, app: String, user: String) throws(OAuthError) {
        try TokenResponse.checkToken(token, field: "refresh token", status: 0)
        var grant = try grant(app: app, user: user)
        grant.refreshToken = token
        try store(grant)
    }

    // MARK: Helpers

    static func requireActive(_ grant: Grant) throws(OAuthError) {
        guard grant.status == .active else {
            throw .grantNotActive(grant: grant.entryName, status: grant.status, reason: grant.statusReason)
        }
    }

    func validateName(_ grant: Grant) throws(OAuthError) {
        try vaultCall { try EntryName.validate(EntryKey(.grant, grant.entryName)) as Void }
    }

    func vaultCall<R>(_ body: () throws -> R) throws(OAuthError) -> R {
        do { return try body() } catch { throw Self.oauthError(error) }
    }

    static func oauthError(_ error: any Error) -> OAuthError {
        switch error {
        case let error as OAuthError: error
        case let error as VaultError: .vault(error)
        case let error as AgentError: .agent(error)
        case is CancellationError: .transport("cancelled")
        default: .transport("\(type(of: error))")
        }
    }
}

extension Grant {
    /// Whether the access token stays valid for `margin` more seconds. Unknown expiry counts as fresh.
    public func isFresh(at now: Int64, margin: Int64) -> Bool {
        guard let expiresAt else { return true }
        return expiresAt - now > margin
    }

    /// What any refresher (one grant's, or a bulk run) stores instead of sending when it finds the mark
    /// of a refresh cut off after its request left: for a provider that rotates refresh tokens, the grant
    /// needing a new login, with the reason (the token may be spent, and presenting a spent one can make
    /// the provider revoke every token of the user); nil when the token can be sent again.
    func cutOff(rotating: Bool) -> Grant? {
        guard refreshStartedAt != nil, rotating else { return nil }
        var marked = self
        marked.refreshStartedAt = nil
        marked.status = .needsReauthorization
        marked.statusReason = OAuthClient.interruptedReason
        return marked
    }

    /// This grant after a successful refresh: a refresh token the provider did not return is kept, and
    /// the mark of a refresh in flight is cleared.
    func refreshed(with response: TokenResponse, at now: Int64, fingerprint: String?) -> Grant {
        var grant = self
        grant.refreshStartedAt = nil
        grant.accessToken = response.accessToken
        grant.refreshToken = response.refreshToken ?? refreshToken
        grant.tokenType = response.tokenType
        if let scope = response.scope { grant.scope = scope }
        grant.expiresAt = response.expiresIn.map { now + $0 }
        grant.lastRefreshAt = now
        grant.secretFingerprint = fingerprint
        grant.status = .active
        grant.statusReason = nil
        return grant
    }
}
