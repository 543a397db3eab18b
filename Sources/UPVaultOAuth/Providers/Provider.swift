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

    /// The 17 Jawbone UP scopes.
    public static let jawboneScopes = [
        "basic_read", "extended_read", "location_read", "friends_read", "mood_read", "mood_write", "move_read",
        "move_write", "sleep_read", "sleep_write", "meal_read", "meal_write", "weight_read", "weight_write",
        "generic_event_read", "generic_event_write", "heartrate_read",
    ]
}

/// Which URLs may carry codes, tokens and secrets: HTTPS, or plain HTTP to a loopback address.
public enum EndpointPolicy {
    /// Throws `insecureEndpoint` for anything but `https://host...` or `http://` to 127.0.0.0/8, ::1
    /// or localhost; `malformedURL` when there is no host.
    public static func check(_ url: String) throws(OAuthError) {
        let parsed = try ParsedURL(url)
        switch parsed.scheme {
        case "https": return
        case "http" where isLoopback(host: parsed.host): return
        // Without query and fragment: a redirect URL carries a code that must not reach an error message.
        default: throw .insecureEndpoint(parsed.withoutQuery)
        }
    }

    public static func isLoopback(host: String) -> Bool {
        let host = host.lowercased()
        if host == "localhost" || host == "[::1]" || host == "::1" { return true }
        let parts = host.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4, parts[0] == "127" else { return false }
        return parts.allSatisfy { part in UInt8(part) != nil }
    }

    /// Checks every endpoint and the redirect URI of an app.
    public static func check(_ app: App) throws(OAuthError) {
        try check(app.endpoints.authorize)
        try check(app.endpoints.token)
        if let base = app.endpoints.apiBase { try check(base) }
        if let recovery = app.endpoints.refreshTokenRecovery { try check(recovery) }
        try check(app.redirectURI)
    }
}
