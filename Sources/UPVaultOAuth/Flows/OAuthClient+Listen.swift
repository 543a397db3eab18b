public import UPVault

extension OAuthClient {
    /// A whole login with a loopback listener at the app's `http://127.0.0.1:PORT/...` redirect URI:
    /// starts the listener, calls `show` with the authorization request and the address it listens on
    /// (for the user to open the URL), waits up to `timeout` for the redirect with this login's state,
    /// exchanges the code, stores the grant for `user`, and always closes the listener.
    public func login(
        app name: String, user: String, listeningFor timeout: Duration,
        show: (AuthorizationRequest, _ listeningOn: String) -> Void
    ) async throws -> Grant {
        let listener = try await LoopbackListener.start(redirectURI: try app(named: name).redirectURI)
        do {
            let request = try authorize(app: name, redirectURI: listener.redirectURI)
            show(request, listener.redirectURI)
            let grant = try await completeAuthorization(request, listener: listener, user: user, timeout: timeout)
            await listener.close()
            return grant
        } catch {
            await listener.close()
            throw error
        }
    }
}
