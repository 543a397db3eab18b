public import UPVault

/// A provider preset: the endpoints and behaviour of one OAuth 2.0 provider.
public struct ProviderPreset: Sendable {
    public var name: String
    public var endpoints: App.Endpoints?
    public var clientAuthentication: App.ClientAuthentication
    public var supportsPKCE: Bool
    public var rotatesRefreshTokens: Bool
    /// Scopes asked for when the user names none.
    public var defaultScopes: [String]

    /// Jawbone UP as it was (2013-2018): form-posted client credentials, no PKCE, one-year access tokens,
    /// refresh tokens that came back unchanged (upvault still treats them as possibly single-use).
    public static let jawbone = ProviderPreset(
        name: "jawbone",
        endpoints: App.Endpoints(
            authorize: "https://jawbone.com/auth/oauth2/auth",
            token: "https://jawbone.com/auth/oauth2/token",
            apiBase: "https://jawbone.com/nudge/api/v.1.1/",
            refreshTokenRecovery: "https://jawbone.com/nudge/api/v.1.1/users/@me/refreshToken"),
        clientAuthentication: .clientSecretPost,
        supportsPKCE: false,
        rotatesRefreshTokens: false,
        defaultScopes: ["basic_read"])

    /// Any OAuth 2.0 provider: endpoints are given explicitly; PKCE (S256) is sent, as RFC 9700 asks.
    public static let generic = ProviderPreset(
        name: "generic", endpoints: nil, clientAuthentication: .clientSecretPost, supportsPKCE: true,
        rotatesRefreshTokens: true, defaultScopes: [])

    public static let all = [jawbone, generic]

    public static func named(_ name: String) -> ProviderPreset? {
        all.first { $0.name == name }
    }

    /// The preset named `name`, or `invalidArgument` naming the ones there are.
    public static func require(_ name: String) throws(OAuthError) -> ProviderPreset {
        guard let preset = named(name) else {
            throw .invalidArgument("unknown provider '\(name)' (\(all.map(\.name).joined(separator: " or ")))")
        }
        return preset
    }
}

/// Endpoints given by hand: each replaces the preset's (or the discovered one); `providerURL` moves the
/// preset's paths to another scheme and host (a sandbox, a proxy) before that.
public struct EndpointOverrides: Sendable, Equatable {
    public var authorize: String?
    public var token: String?
    public var apiBase: String?
    public var refreshTokenRecovery: String?
    public var revocation: String?
    public var deviceAuthorization: String?
    public var providerURL: String?

    public init(
        authorize: String? = nil, token: String? = nil, apiBase: String? = nil, refreshTokenRecovery: String? = nil,
        revocation: String? = nil, deviceAuthorization: String? = nil, providerURL: String? = nil
    ) {
        self.authorize = authorize
        self.token = token
        self.apiBase = apiBase
        self.refreshTokenRecovery = refreshTokenRecovery
        self.revocation = revocation
        self.deviceAuthorization = deviceAuthorization
        self.providerURL = providerURL
    }
}

extension ProviderPreset {
    /// The preset's endpoints (or `discovered` ones) with `overrides` applied. A preset without
    /// endpoints (`generic`) and nothing discovered needs at least the token endpoint given.
    public func endpoints(
        _ overrides: EndpointOverrides = EndpointOverrides(), discovered: App.Endpoints? = nil
    ) throws(OAuthError) -> App.Endpoints {
        var base = discovered ?? endpoints
        if discovered == nil, let providerURL = overrides.providerURL, let preset = base {
            base = preset.rebased(onto: providerURL)
        }
        guard let token = overrides.token ?? base?.token else {
            throw .invalidArgument("the \(name) provider needs --issuer, or --token-url (and --authorize-url)")
        }
        return App.Endpoints(
            authorize: overrides.authorize ?? base?.authorize, token: token,
            apiBase: overrides.apiBase ?? base?.apiBase,
            refreshTokenRecovery: overrides.refreshTokenRecovery ?? base?.refreshTokenRecovery,
            revocation: overrides.revocation ?? base?.revocation,
            deviceAuthorization: overrides.deviceAuthorization ?? base?.deviceAuthorization, issuer: base?.issuer)
    }

    /// A new app registration on this provider, its secret current from `now`; a nil `clientSecret`
    /// makes a public client (no secret, `none` authentication, PKCE always). Scopes default to the
    /// preset's, client authentication and PKCE to what the preset does. Checked by `EndpointPolicy`.
    public func app(
        named name: String, clientID: String, clientSecret: String?, redirectURI: String, scopes: [String]? = nil,
        endpoints: App.Endpoints, clientAuthentication: App.ClientAuthentication? = nil, pkce: Bool? = nil,
        rateLimit: Double? = nil, now: Int64
    ) throws(OAuthError) -> App {
        guard !clientID.isEmpty, clientID.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }), clientID.utf8.count <= 1024
        else {
            throw .invalidArgument("the client id must be printable characters without spaces")
        }
        if let clientSecret {
            guard !clientSecret.isEmpty, !clientSecret.contains(where: \.isNewline) else {
                throw .invalidArgument("the client secret must be one non-empty line of text")
            }
            guard clientAuthentication != App.ClientAuthentication.none else {
                throw .invalidArgument(
                    "client authentication 'none' is for a public client (--public), which has no secret")
            }
        } else {
            guard clientAuthentication == nil || clientAuthentication == App.ClientAuthentication.none else {
                throw .invalidArgument("a public client sends no secret: its client authentication is 'none'")
            }
            guard pkce != false else { throw .invalidArgument("a public client always uses PKCE") }
        }
        if let rateLimit { try RequestRate.check(rateLimit) }
        let app = App(
            name: name, provider: self.name, clientID: clientID,
            clientSecrets: clientSecret.map { [App.ClientSecret(value: $0, addedAt: now)] } ?? [],
            redirectURI: redirectURI, scopes: scopes ?? defaultScopes, endpoints: endpoints,
            clientAuthentication: clientSecret == nil ? .none : clientAuthentication ?? self.clientAuthentication,
            supportsPKCE: clientSecret == nil ? true : pkce ?? supportsPKCE, rotatesRefreshTokens: rotatesRefreshTokens,
            rateLimit: rateLimit)
        try EndpointPolicy.check(app)
        return app
    }
}

extension App.Endpoints {
    /// The same paths on another scheme and host: `https://jawbone.com/auth/...` becomes `BASE/auth/...`.
    public func rebased(onto base: String) -> App.Endpoints {
        let root = base.hasSuffix("/") ? String(base.dropLast()) : base
        func move(_ url: String) -> String {
            guard let schemeEnd = url.firstRange(of: "://") else { return url }
            let rest = url[schemeEnd.upperBound...]
            let path = rest.firstIndex(of: "/").map { rest[$0...] } ?? ""
            return root + path
        }
        return App.Endpoints(
            authorize: authorize.map(move), token: move(token), apiBase: apiBase.map(move),
            refreshTokenRecovery: refreshTokenRecovery.map(move), revocation: revocation.map(move),
            deviceAuthorization: deviceAuthorization.map(move), issuer: issuer.map(move))
    }
}
