public import Logging
public import UPVault

/// Runs `body` with an OAuth client on `vault`, and shuts the client's HTTP connections down afterwards,
/// whether `body` returns or throws.
public func withOAuthClient<R>(
    _ vault: any VaultStore, connectionsPerHost: Int = 16, logger: Logger = Vault.silentLogger,
    _ body: (OAuthClient) async throws -> R
) async throws -> R {
    let client = OAuthClient(vault: vault, connectionsPerHost: connectionsPerHost, logger: logger)
    do {
        let result = try await body(client)
        await client.shutdown()
        return result
    } catch {
        await client.shutdown()
        throw error
    }
}

extension OAuthClient {
    /// A valid access token for the grant `selection` names, from whichever handle `store` is. The agent
    /// chooses the defaults and refreshes in its own process (one round trip; no HTTP client here); with
    /// the vault file, a client is started for the call. `forceRefresh` refreshes whatever the expiry.
    public static func accessToken(
        from store: any VaultStore, selection: GrantSelector, minimumValidity: Duration = .seconds(300),
        forceRefresh: Bool = false, logger: Logger = Vault.silentLogger
    ) async throws -> String {
        if let agent = store as? AgentClient {
            return try agent.accessToken(
                app: selection.app, user: selection.user, minimumValidity: minimumValidity, forceRefresh: forceRefresh)
        }
        let (app, user) = try selection.grant(in: store)
        return try await withOAuthClient(store, logger: logger) { client in
            if forceRefresh { return try await client.refresh(app: app, user: user).accessToken }
            return try await client.accessToken(app: app, user: user, minimumValidity: minimumValidity)
        }
    }
}
