import Logging
public import UPVault

/// Requests that authenticate the client: the token endpoint, device authorization (RFC 8628) and
/// revocation (RFC 7009) all take the same client authentication (RFC 6749 §2.3).
extension OAuthClient {
    /// POSTs to the token endpoint (see `clientRequest`).
    func tokenRequest(
        app: App, fields: [(String, String)]
    ) async throws(OAuthError) -> (TokenResponse, App.ClientSecret?) {
        try await clientRequest(app: app, url: app.endpoints.token, fields: fields, parse: TokenResponse.parse)
    }

    /// POSTs `fields` to `url` with the app's client authentication and reads the answer with `parse`.
    /// A confidential client sends its current secret and, when the provider answers `invalid_client`,
    /// each older secret still inside its grace window; a public client sends its `client_id` and no
    /// secret. Returns the result and the secret that worked (nil for a public client).
    func clientRequest<Result>(
        app: App, url: String, fields: [(String, String)],
        parse: (HTTPResult) throws(OAuthError) -> Result
    ) async throws(OAuthError) -> (Result, App.ClientSecret?) {
        try EndpointPolicy.check(url)
        if app.isPublic {
            let exchange = Self.clientExchange(app: app, secret: nil, url: url, fields: fields)
            return (try parse(try await transport.send(exchange)), nil)
        }
        let secrets = app.usableSecrets(at: now())
        guard !secrets.isEmpty else {
            throw .invalidClient(app: app.name, reason: "the app has no usable client secret")
        }
        var lastReason = ""
        for secret in secrets {
            let exchange = Self.clientExchange(app: app, secret: secret, url: url, fields: fields)
            do {
                return (try parse(try await transport.send(exchange)), secret)
            } catch .providerError(let code, let reason, _) where code == "invalid_client" {
                lastReason = reason
                logger.notice(
                    "client secret refused; trying an older one still in its grace window",
                    metadata: ["app": "\(app.name)"])
            }
        }
        throw .invalidClient(app: app.name, reason: lastReason)
    }

    static func clientExchange(
        app: App, secret: App.ClientSecret?, url: String, fields: [(String, String)]
    ) -> HTTPExchange {
        var form = fields
        var headers = [("Content-Type", "application/x-www-form-urlencoded"), ("Accept", "application/json")]
        form.append(("client_id", app.clientID))
        switch (app.clientAuthentication, secret) {
        case (.clientSecretPost, let secret?):
            form.append(("client_secret", secret.value))
        case (.clientSecretBasic, let secret?):
            // RFC 6749 §2.3.1: each part form-encoded before Base64.
            let credentials = FormEncoding.escape(app.clientID) + ":" + FormEncoding.escape(secret.value)
            headers.append(("Authorization", "Basic " + Base64URL.encode(credentials.utf8, original: true)))
        default:
            break  // a public client: client_id alone
        }
        return HTTPExchange(method: "POST", url: url, headers: headers, body: FormEncoding.encodedBytes(form))
    }

    static func tokenExchange(app: App, secret: App.ClientSecret?, fields: [(String, String)]) -> HTTPExchange {
        clientExchange(app: app, secret: secret, url: app.endpoints.token, fields: fields)
    }
}
