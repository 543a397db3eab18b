public import UPVault

/// The OAuth operations the agent performs in its own process, so that a client needs no HTTP client
/// and no key: they travel under the `oauth` key of the agent's envelope (Vault/AGENT.md). A client sends
/// `token` with UPVault's `AgentTokenRequest` (`AgentClient.accessToken`), which encodes the same JSON.
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
