import Logging
public import UPVault

/// A device login in progress (RFC 8628): what to show the user. The device code it polls with stays
/// in memory and is never printed or stored.
public struct DeviceAuthorization: Sendable {
    public let app: String
    /// The code the user types at `verificationURI`.
    public let userCode: String
    /// Where the user goes, on any device with a browser.
    public let verificationURI: String
    /// The same page with the code filled in, when the provider offers it (for a QR code or a link).
    public let verificationURIComplete: String?
    /// Unix seconds after which the codes are no longer accepted.
    public let expiresAt: Int64
    /// Seconds between polls, as the provider asked.
    public let interval: Int64
    let deviceCode: String
}

/// The device authorization grant (RFC 8628): login on a machine without a browser.
extension OAuthClient {
    /// Starts a device login: asks the provider's device authorization endpoint for a user code.
    public func startDeviceLogin(
        app name: String, scopes: [String]? = nil
    ) async throws(OAuthError)
        -> DeviceAuthorization
    {
        let app = try app(named: name)
        guard let endpoint = app.endpoints.deviceAuthorization else {
            throw .unsupported(
                "app \(name) has no device authorization endpoint (add it with --device-authorization-url, or "
                    + "register the app with --issuer when the provider publishes one)")
        }
        let scope = (scopes ?? app.scopes).joined(separator: " ")
        let (response, _) = try await clientRequest(
            app: app, url: endpoint, fields: scope.isEmpty ? [] : [("scope", scope)],
            parse: DeviceAuthorizationResponse.parse)
        logger.info("device login started", metadata: ["app": "\(name)"])
        return DeviceAuthorization(
            app: name, userCode: response.userCode, verificationURI: response.verificationURI,
            verificationURIComplete: response.verificationURIComplete, expiresAt: now() + response.expiresIn,
            interval: response.interval, deviceCode: response.deviceCode)
    }

    /// Polls the token endpoint at the provider's interval until the user approves (the grant is stored
    /// for `user` and returned), denies (`accessDenied`) or the code expires (`deviceCodeExpired`).
    /// `slow_down` adds 5 seconds to the interval for good (RFC 8628 §3.5); a failure to reach the
    /// provider doubles it (at most a minute) and polling goes on until the code expires.
    public func completeDeviceLogin(
        _ authorization: DeviceAuthorization, user: String
    ) async throws(OAuthError)
        -> Grant
    {
        try vaultCall { try EntryName.validate(EntryKey(.grant, "\(authorization.app)/\(user)")) as Void }
        let app = try app(named: authorization.app)
        let fields = [
            ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"), ("device_code", authorization.deviceCode),
        ]
        var interval = authorization.interval
        while true {
            do { try await sleep(.seconds(interval)) } catch { throw .transport("cancelled") }
            guard now() < authorization.expiresAt else { throw .deviceCodeExpired(app: app.name) }
            do {
                let (response, secret) = try await tokenRequest(app: app, fields: fields)
                return try storeNewGrant(app: app, user: user, response: response, secret: secret)
            } catch .providerError(let code, _, _) where code == "authorization_pending" {
                logger.debug("device login: waiting for the user's approval", metadata: ["app": "\(app.name)"])
            } catch .providerError(let code, _, _) where code == "slow_down" {
                interval += 5
                logger.notice("device login: the provider asked to slow down", metadata: ["interval": "\(interval)"])
            } catch .providerError(let code, _, _) where code == "access_denied" {
                throw .accessDenied
            } catch .providerError(let code, _, _) where code == "expired_token" {
                throw .deviceCodeExpired(app: app.name)
            } catch let error where error.isTransient {
                if case .rateLimited(let after?) = error { interval = max(interval, Int64(min(after, 300))) }
                interval = min(interval * 2, max(interval, 60))
                logger.notice(
                    "device login: provider unavailable; polling less often", metadata: ["interval": "\(interval)"])
            }
        }
    }
}
