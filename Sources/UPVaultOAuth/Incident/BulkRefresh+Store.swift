public import UPVault

extension OAuthClient {
    /// A bulk refresh on whichever handle `store` is: in the agent's process when `store` is the agent
    /// (its issues are reported once the run is over), else here, with a client of its own whose pool
    /// has room for `options.concurrency` connections. See `bulkRefresh(_:resume:dryRun:progress:issue:)`.
    public static func bulkRefresh(
        in store: any VaultStore, _ options: BulkRefreshOptions, resume: Bool = false, dryRun: Bool = false,
        progress: @escaping @Sendable (BulkRefreshProgress) -> Void = { _ in },
        issue: @escaping @Sendable (BulkRefreshIssue, _ needsReauthorization: Bool) -> Void = { _, _ in }
    ) async throws -> BulkRefreshReport {
        if let agent = store as? AgentClient {
            let report = try agent.bulkRefresh(options, resume: resume, dryRun: dryRun)
            for item in report.failed { issue(item, false) }
            for item in report.needsReauthorization { issue(item, true) }
            return report
        }
        return try await withOAuthClient(store, connectionsPerHost: options.concurrency) { client in
            try await client.bulkRefresh(options, resume: resume, dryRun: dryRun, progress: progress, issue: issue)
        }
    }
}
