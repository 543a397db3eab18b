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

/// Endpoints given by hand: each replaces the preset's; `providerURL` moves the preset's paths to another
/// scheme and host (a sandbox, a proxy) before that.
public struct EndpointOverrides: Sendable, Equatable {
    public var authorize: String?
    public var token: String?
    public var apiBase: String?
    public var refreshTokenRecovery: String?
    public var providerURL: String?

    public init(
        authorize: String? = nil, token: String? = nil, apiBase: String? = nil, refreshTokenRecovery: String? = nil,
        providerURL: String? = nil
    ) {
        self.authorize = authorize
        self.token = token
        self.apiBase = apiBase
        self.refreshTokenRecovery = refreshTokenRecovery
        self.providerURL = providerURL
    }
}

extension ProviderPreset {
    /// The preset's endpoints with `overrides` applied. A preset without endpoints (`generic`) needs at
    /// least the authorization and token endpoints given.
    public func endpoints(_ overrides: EndpointOverrides = EndpointOverrides()) throws(OAuthError) -> App.Endpoints {
        var base = endpoints
        if let providerURL = overrides.providerURL, let preset = base { base = preset.rebased(onto: providerURL) }
        guard let authorize = overrides.authorize ?? base?.authorize, let token = overrides.token ?? base?.token else {
            throw .invalidArgument("the \(name) provider needs --authorize-url and --token-url")
        }
        return App.Endpoints(
            authorize: authorize, token: token, apiBase: overrides.apiBase ?? base?.apiBase,
            refreshTokenRecovery: overrides.refreshTokenRecovery ?? base?.refreshTokenRecovery)
    }

    /// A new app registration on this provider, its secret current from `now`. Scopes default to the
    /// preset's, client authentication and PKCE to what the preset does. Checked by `EndpointPolicy`.
    public func app(
        named name: String, clientID: String, clientSecret: String, redirectURI: String, scopes: [String]? = nil,
        endpoints: App.Endpoints, clientAuthentication: App.ClientAuthentication? = nil, pkce: Bool? = nil, now: Int64
    ) throws(OAuthError) -> App {
        let app = App(
            name: name, provider: self.name, clientID: clientID,
            clientSecrets: [App.ClientSecret(value: clientSecret, addedAt: now)], redirectURI: redirectURI,
            scopes: scopes ?? defaultScopes, endpoints: endpoints,
            clientAuthentication: clientAuthentication ?? self.clientAuthentication, supportsPKCE: pkce ?? supportsPKCE,
            rotatesRefreshTokens: rotatesRefreshTokens)
        try EndpointPolicy.check(app)
        guard !clientSecret.isEmpty, !clientSecret.contains(where: \.isNewline) else {
            throw .invalidArgument("the client secret must be one non-empty line of text")
        }
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
            authorize: move(authorize), token: move(token), apiBase: apiBase.map(move),
            refreshTokenRecovery: refreshTokenRecovery.map(move))
    }
}
