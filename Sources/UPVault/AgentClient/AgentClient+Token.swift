/// The agent's token operation as a client sends it. The agent runs the OAuth flow (UPVaultOAuth), but
/// asking for a token needs no HTTP client: this is the `token` case of UPVaultOAuth's `OAuthAgentRequest`,
/// under the same `oauth` key and with the same JSON, so that a program with only UPVault (the `upvault`
/// front binary, an app) can ask for one (`AgentTokenTests` checks the two encodings are equal).
package enum AgentTokenRequest: AgentOperations, Equatable {
    package typealias Response = AgentTokenResponse
    package static let envelopeKey = "oauth"

    case token(app: String?, user: String?, minValid: Int64, force: Bool)
}

/// The `token` case of UPVaultOAuth's `OAuthAgentResponse`.
package enum AgentTokenResponse: Codable, Sendable, Equatable {
    case token(String)
}

extension AgentClient {
    /// A valid access token for a grant, refreshed by the agent when it expires within `minimumValidity`
    /// (or in any case with `forceRefresh`). With `app` or `user` nil, the agent picks the vault's only
    /// app or the app's only grant.
    public func accessToken(
        app: String?, user: String?, minimumValidity: Duration, forceRefresh: Bool = false
    ) throws(AgentError) -> String {
        let request = AgentTokenRequest.token(
            app: app, user: user, minValid: minimumValidity.components.seconds, force: forceRefresh)
        guard case .token(let token) = try exchange(request) else { throw .protocolViolation("token without a token") }
        return token
    }
}
