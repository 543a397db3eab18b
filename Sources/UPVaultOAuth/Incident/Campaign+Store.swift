public import Logging
public import UPVault

extension OAuthClient {
    /// True when a bulk refresh of `store` is a campaign that workers share: a database vault, opened here
    /// (`CampaignStore`) or served by the agent.
    public static func runsCampaigns(_ store: any VaultStore) -> Bool {
        store is any CampaignStore || (store is AgentClient && VaultLocation.isURL(store.path))
    }

    /// Works on the campaign of whichever handle `store` is: in the agent's process when `store` is the
    /// agent (it holds the key; its issues are reported once the campaign is over), else here, with a
    /// client of its own whose pool has room for `options.concurrency` connections. See
    /// `campaignRefresh(in:_:resume:worker:progress:issue:)`.
    ///
    /// - Throws: `BulkRefreshError.noCampaigns` for a vault file.
    public static func campaignRefresh(
        in store: any VaultStore, _ options: BulkRefreshOptions, resume: Bool = false,
        worker: CampaignWorker = CampaignWorker(), logger: Logger = Vault.silentLogger,
        progress: @escaping @Sendable (CampaignStatus) -> Void = { _ in },
        issue: @escaping @Sendable (BulkRefreshIssue, _ needsReauthorization: Bool) -> Void = { _, _ in }
    ) async throws -> CampaignStatus {
        if let agent = store as? AgentClient, VaultLocation.isURL(agent.path) {
            // The agent answers when the campaign is over: the wait is on a thread of its own.
            return try await withTaskExecutorPreference(BlockingExecutor.shared) {
                try agent.campaignRefresh(options, resume: resume, worker: worker)
            }
        }
        guard let campaigns = store as? any CampaignStore else { throw BulkRefreshError.noCampaigns }
        return try await withOAuthClient(store, connectionsPerHost: options.concurrency, logger: logger) { client in
            try await client.campaignRefresh(
                in: campaigns, options, resume: resume, worker: worker, progress: progress, issue: issue)
        }
    }

    /// The counts of the latest campaign of `store` (here or in the agent), nil when it has had none.
    ///
    /// - Throws: `BulkRefreshError.noCampaigns` for a vault file.
    public static func campaignStatus(of store: any VaultStore) throws -> CampaignStatus? {
        if let agent = store as? AgentClient, VaultLocation.isURL(agent.path) { return try agent.campaignStatus() }
        guard let campaigns = store as? any CampaignStore else { throw BulkRefreshError.noCampaigns }
        return try campaigns.campaignStatus(nil)
    }
}
