public import UPVault

/// What a user says about a new app: the provider, or an issuer to discover it from, the client, and
/// any endpoint given by hand. `OAuthClient.addApp` turns it into a stored `App`.
public struct AppRegistration: Sendable {
    public var name: String
    public var provider: ProviderPreset
    /// Discover the endpoints from this issuer's metadata (RFC 8414 / OpenID Connect).
    public var issuer: String?
    public var clientID: String
    /// A public client: no secret, PKCE always (RFC 8252 native apps, device flow on a server).
    public var isPublic: Bool
    /// Default: `http://127.0.0.1/callback` (a loopback listener on any port, RFC 8252 §7.3).
    public var redirectURI: String?
    public var scopes: [String]?
    public var overrides: EndpointOverrides
    public var clientAuthentication: App.ClientAuthentication?
    public var pkce: Bool?
    public var rateLimit: Double?

    public static let defaultRedirectURI = "http://127.0.0.1/callback"

    public init(
        name: String, provider: ProviderPreset, issuer: String? = nil, clientID: String, isPublic: Bool = false,
        redirectURI: String? = nil, scopes: [String]? = nil, overrides: EndpointOverrides = EndpointOverrides(),
        clientAuthentication: App.ClientAuthentication? = nil, pkce: Bool? = nil, rateLimit: Double? = nil
    ) {
        self.name = name
        self.provider = provider
        self.issuer = issuer
        self.clientID = clientID
        self.isPublic = isPublic
        self.redirectURI = redirectURI
        self.scopes = scopes
        self.overrides = overrides
        self.clientAuthentication = clientAuthentication
        self.pkce = pkce
        self.rateLimit = rateLimit
    }
}

extension OAuthClient {
    /// Registers an app. The name is checked (and an existing app refused unless `replace`) first; then,
    /// with an issuer, the provider's metadata is fetched and checked (nothing is stored when it fails);
    /// then `clientSecret` is asked, unless the client is public; then the app is stored. Endpoints
    /// given by hand override discovered ones; so does an explicit client authentication or PKCE choice.
    @discardableResult
    public func addApp(
        _ registration: AppRegistration, replace: Bool, clientSecret: () throws -> String
    ) async throws -> App {
        let name = registration.name
        try EntryName.validate(EntryKey(.app, name))
        if !replace, try vault.contains(EntryKey(.app, name)) { throw OAuthError.appExists(name) }
        var discovered: ProviderMetadata?
        if let issuer = registration.issuer { discovered = try await discover(issuer: issuer) }
        let endpoints = try registration.provider.endpoints(registration.overrides, discovered: discovered?.endpoints)
        var authentication = registration.clientAuthentication
        if !registration.isPublic, authentication == nil, let discovered {
            guard let preferred = discovered.preferredSecretAuthentication else {
                throw OAuthError.unsupported(
                    "the provider lists neither client_secret_basic nor client_secret_post for its token endpoint")
            }
            authentication = preferred
        }
        let pkce = registration.pkce ?? discovered?.supportsS256
        return try vault.addApp(named: name, replace: replace) {
            try registration.provider.app(
                named: name, clientID: registration.clientID,
                clientSecret: registration.isPublic ? nil : try clientSecret(),
                redirectURI: registration.redirectURI ?? AppRegistration.defaultRedirectURI,
                scopes: registration.scopes, endpoints: endpoints, clientAuthentication: authentication, pkce: pkce,
                rateLimit: registration.rateLimit, now: now())
        }
    }
}
