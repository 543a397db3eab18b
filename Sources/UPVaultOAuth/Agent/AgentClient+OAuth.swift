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
    /// Work on a database vault's refresh campaign in the agent (`OAuthClient.campaignRefresh`), as the
    /// worker `worker` (nil: a random name) with claims of `leaseSeconds`.
    case campaign(options: BulkRefreshOptions, resume: Bool, worker: String?, leaseSeconds: Int64)
    /// The counts of a database vault's latest campaign (`CampaignStore.campaignStatus`).
    case campaignStatus
}

package enum OAuthAgentResponse: Codable, Sendable, Equatable {
    case token(String)
    case report(BulkRefreshReport)
    case campaign(CampaignStatus?)
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

extension AgentClient {
    /// Works on the database vault's refresh campaign in the agent (which holds the key) until none of its
    /// grants is left, and returns the campaign's counts. Minutes at scale: no receive time-out.
    public func campaignRefresh(
        _ options: BulkRefreshOptions, resume: Bool = false, worker: CampaignWorker = CampaignWorker()
    ) throws(AgentError) -> CampaignStatus {
        let request = OAuthAgentRequest.campaign(
            options: options, resume: resume, worker: worker.name, leaseSeconds: worker.lease.components.seconds)
        let response = try withoutTimeout { () throws(AgentError) in try exchange(request) }
        guard case .campaign(let status?) = response else { throw .protocolViolation("campaign without counts") }
        return status
    }

    /// The counts of the database vault's latest campaign, nil when it has had none.
    public func campaignStatus() throws(AgentError) -> CampaignStatus? {
        guard case .campaign(let status) = try exchange(OAuthAgentRequest.campaignStatus) else {
            throw .protocolViolation("campaign_status without counts")
        }
        return status
    }
}
