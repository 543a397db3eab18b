public import UPVault

/// Registering and removing apps: the rules every front end (the CLI, an app) keeps the same.
extension VaultStore {
    /// Adds the app `make` builds under `name`. The name is checked, and an existing app of that name
    /// refused unless `replace`, before `make` runs (so a prompt for the client secret comes after).
    @discardableResult
    public func addApp(named name: String, replace: Bool, _ make: () throws -> App) throws -> App {
        try EntryName.validate(EntryKey(.app, name))
        if !replace, try contains(EntryKey(.app, name)) { throw OAuthError.appExists(name) }
        let app = try make()
        guard app.name == name else { throw OAuthError.invalidArgument("the app is named \(app.name), not \(name)") }
        try EndpointPolicy.check(app)
        try put(app)
        return app
    }

    /// Sets (or, with nil, removes) the app's default rate limit for bulk runs, in requests per second.
    @discardableResult
    public func setRateLimit(app name: String, perSecond: Double?) throws -> App {
        guard var app = try entry(App.self, named: name) else { throw VaultError.entryNotFound(EntryKey(.app, name)) }
        if let perSecond { try RequestRate.check(perSecond) }
        app.rateLimit = perSecond
        try put(app)
        return app
    }

    /// The names (`APP/USER`) of an app's grants, sorted.
    public func grantNames(of app: String) throws -> [String] {
        try names(of: .grant).filter { $0.hasPrefix(app + "/") }
    }

    /// Deletes an app, and with `includingGrants` every grant of it, in one durable batch. An app that
    /// still has grants is refused without it (`appHasGrants`): a grant without its app cannot refresh.
    /// Returns how many grants were deleted.
    @discardableResult
    public func removeApp(named name: String, includingGrants: Bool) throws -> Int {
        guard try contains(EntryKey(.app, name)) else { throw VaultError.entryNotFound(EntryKey(.app, name)) }
        let owned = try grantNames(of: name)
        if !owned.isEmpty && !includingGrants { throw OAuthError.appHasGrants(app: name, count: owned.count) }
        try write { transaction in
            transaction.remove(EntryKey(.app, name))
            for grant in owned { transaction.remove(EntryKey(.grant, grant)) }
        }
        return owned.count
    }
}

/// An app without its secrets' values: each secret by fingerprint and state, and how many grants it has.
public struct AppSummary: Codable, Sendable, Equatable {
    public struct Secret: Codable, Sendable, Equatable {
        public var fingerprint: String
        public var state: App.SecretState
        public var addedAt: UnixTime
        public var validUntil: UnixTime?
    }

    public var name: String
    public var provider: String
    public var clientId: String
    public var redirectUri: String
    public var scopes: [String]
    public var endpoints: App.Endpoints
    public var clientAuthentication: App.ClientAuthentication
    public var supportsPkce: Bool
    public var rateLimit: Double?
    public var clientSecrets: [Secret]
    public var grants: Int

    public init(_ app: App, grants: Int, at now: Int64) {
        name = app.name
        provider = app.provider
        clientId = app.clientID
        redirectUri = app.redirectURI
        scopes = app.scopes
        endpoints = app.endpoints
        clientAuthentication = app.clientAuthentication
        supportsPkce = app.supportsPKCE
        rateLimit = app.rateLimit
        clientSecrets = app.clientSecrets.map { secret in
            Secret(
                fingerprint: secret.fingerprint(clientID: app.clientID), state: app.state(of: secret, at: now),
                addedAt: UnixTime(secret.addedAt), validUntil: secret.validUntil.map(UnixTime.init))
        }
        self.grants = grants
    }
}

extension VaultStore {
    /// The app named `name`, summarised at `now`; `entryNotFound` when there is none.
    public func appSummary(named name: String, at now: Int64) throws -> AppSummary {
        guard let app = try entry(App.self, named: name) else { throw VaultError.entryNotFound(EntryKey(.app, name)) }
        return AppSummary(app, grants: try grantNames(of: name).count, at: now)
    }
}
