public import UPVault

/// The OAuth operations the agent performs in its own process, so that a client needs no HTTP client
/// and no key: they travel under the `oauth` key of the agent's envelope (Vault/AGENT.md).
package enum OAuthAgentRequest: AgentOperations, Equatable {
    package typealias Response = OAuthAgentResponse
    package static let envelopeKey = "oauth"

    /// A valid access token; nil app or user leaves the choice to the vault (`GrantSelector`).
    case token(app: String?, user: String?, minValid: Int64, force: Bool)
    case bulkRefresh(options: BulkRefreshOptions, resume: Bool, dryRun: Bool)
}

package enum OAuthAgentResponse: Codable, Sendable, Equatable {
    case token(String)
    case report(BulkRefreshReport)
}

extension AgentClient {
    /// A valid access token for a grant, refreshed by the agent when it expires within `minimumValidity`
    /// (or in any case with `forceRefresh`). With `app` or `user` nil, the agent picks the vault's only
    /// app or the app's only grant.
    public func accessToken(
        app: String?, user: String?, minimumValidity: Duration, forceRefresh: Bool = false
    ) throws(AgentError) -> String {
        let request = OAuthAgentRequest.token(
            app: app, user: user, minValid: minimumValidity.components.seconds, force: forceRefresh)
        guard case .token(let token) = try exchange(request) else { throw .protocolViolation("token without a token") }
        return token
    }

    /// Runs a bulk refresh in the agent and returns its report. A run over a million grants takes
    /// minutes: this request has no receive time-out.
    public func bulkRefresh(
        _ options: BulkRefreshOptions, resume: Bool = false, dryRun: Bool = false
    ) throws(AgentError) -> BulkRefreshReport {
        let request = OAuthAgentRequest.bulkRefresh(options: options, resume: resume, dryRun: dryRun)
        let response = try withoutTimeout { () throws(AgentError) in try exchange(request) }
        guard case .report(let report) = response else { throw .protocolViolation("bulk_refresh without a report") }
        return report
    }
}
