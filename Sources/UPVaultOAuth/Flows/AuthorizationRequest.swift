import UPVault

/// A login in progress: the URL to open, and what the redirect must match. Holds the PKCE verifier,
/// so it stays in memory for the few minutes of a login and is never stored.
public struct AuthorizationRequest: Sendable {
    public let app: String
    /// Open this in a browser.
    public let url: String
    public let redirectURI: String
    let state: String
    let codeVerifier: String?

    /// Builds the authorization URL with a fresh 256-bit `state` and, when the app's provider
    /// supports it (always for a public client), a PKCE S256 challenge (RFC 7636).
    init(app: App, redirectURI override: String? = nil) throws(OAuthError) {
        try EndpointPolicy.check(app)
        guard let authorize = app.endpoints.authorize else {
            throw .unsupported(
                "app \(app.name)'s provider has no authorization endpoint; use 'login --device' or --client-credentials"
            )
        }
        let redirectURI = override ?? app.redirectURI
        try EndpointPolicy.check(redirectURI)
        state = Base64URL.randomToken(byteCount: 32)
        var fields = [
            ("response_type", "code"),
            ("client_id", app.clientID),
            ("scope", app.scopes.joined(separator: " ")),
            ("redirect_uri", redirectURI),
            ("state", state),
        ]
        if app.supportsPKCE || app.isPublic {
            let verifier = Base64URL.randomToken(byteCount: 32)
            codeVerifier = verifier
            fields.append(("code_challenge", Base64URL.encode(SHA256.hash(verifier.utf8))))
            fields.append(("code_challenge_method", "S256"))
        } else {
            codeVerifier = nil
        }
        let separator = authorize.contains("?") ? "&" : "?"
        url = authorize + separator + FormEncoding.encode(fields)
        self.app = app.name
        self.redirectURI = redirectURI
    }

    /// The authorization code in a redirect URL, after checking that the URL is this app's redirect
    /// URI, that `state` matches in constant time, and that the provider did not report an error.
    func authorizationCode(from redirectURL: String) throws(OAuthError) -> String {
        let text = redirectURL.trimmedWhitespace
        try EndpointPolicy.check(text)
        let received = try ParsedURL(text)
        let expected = try ParsedURL(redirectURI)
        guard received.isRedirect(to: expected) else {
            throw .redirectMismatch(expected: redirectURI)
        }
        guard let receivedState = received.query("state"), ConstantTime.equals(receivedState, state) else {
            throw .stateMismatch
        }
        if let error = received.query("error") {
            if error == "access_denied" { throw .accessDenied }
            throw .providerError(
                code: OAuthError.sanitized(error), reason: OAuthError.sanitized(received.query("error_description")),
                httpStatus: 0)
        }
        guard let code = received.query("code"), !code.isEmpty, code.utf8.count <= 4096 else {
            throw .missingAuthorizationCode
        }
        return code
    }
}
