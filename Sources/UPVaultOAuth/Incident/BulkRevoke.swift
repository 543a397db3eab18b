import Logging
import Synchronization
public import UPVault

extension OAuthClient {
    /// Revokes every selected grant of one app (the incident: a leaked vault, a stolen laptop): bounded
    /// concurrency, paced at `rate` (else the app's rate limit) across all workers and slowed down on
    /// 429, transient failures retried with back-off. Each grant keeps its receipt (`revokedAt`, the
    /// endpoint, the status) in the vault, and is marked durably before its request leaves, so a crash
    /// never forgets one: the next run (or `resume`) sends the grants that were in flight first, and
    /// skips every grant already revoked. Sending a revocation again is harmless (RFC 7009 §2.2), so a
    /// token revoked just before a crash is answered 200 again, never revoked twice. The marks and
    /// receipts of the workers are group-committed (`GroupCommit`): each is durable before its worker
    /// goes on, and one sync carries whatever the others wrote meanwhile.
    public func bulkRevoke(
        _ requested: BulkRevokeOptions, resume: Bool = false,
        progress: @escaping @Sendable (BulkRefreshProgress) -> Void = { _ in },
        issue: @escaping @Sendable (BulkRefreshIssue) -> Void = { _ in }
    ) async throws -> BulkRevokeReport {
        let clock = ContinuousClock()
        let started = clock.now
        let previous = try vault.entry(RevokeRun.self, named: RevokeRun.name)
        if resume && previous == nil { throw BulkRefreshError.nothingToResume }
        var options = resume ? previous!.options : requested
        if resume {
            options.concurrency = requested.concurrency
            options.rate = requested.rate ?? options.rate
        }
        let app = try app(named: options.app)
        guard let endpoint = app.endpoints.revocation else {
            throw OAuthError.unsupported("app \(app.name) has no revocation endpoint")
        }
        let journal = RevokeRun(
            id: Base64URL.randomToken(byteCount: 12), startedAt: resume ? previous!.startedAt : now(), options: options)
        try vault.put(journal)

        var report = BulkRevokeReport()
        var queue: [Grant] = []
        for grant in try vault.entries(Grant.self) where options.selects(grant) {
            report.selected += 1
            if grant.revokedAt != nil {
                report.alreadyRevoked += 1
            } else {
                if grant.revocationStartedAt != nil { report.resumedInFlight += 1 }
                queue.append(grant)
            }
        }
        // The ones in flight at a crash first: their tokens may be live or already gone.
        queue.sort { $0.revocationStartedAt != nil && $1.revocationStartedAt == nil }
        let pacer = Pacer(rate: options.rate ?? app.rateLimit, sleep: sleep)
        report.pacedAt = pacer.rate
        let shared = RevokeTally(report)
        let before = report.alreadyRevoked
        let total = queue.count
        let work = queue
        let attempts = options.maximumAttempts
        // Every mark and receipt is durable before its worker goes on; the workers share the syncs.
        let commit = GroupCommit(vault: vault)
        try await withThrowingTaskGroup(of: Void.self) { workers in
            for _ in 0..<min(options.concurrency, max(1, total)) {
                workers.addTask {
                    while let grant = shared.state.withLock({ state -> Grant? in
                        guard state.next < work.count else { return nil }
                        defer { state.next += 1 }
                        return work[state.next]
                    }) {
                        let outcome = await self.revokeOne(
                            grant, app: app, endpoint: endpoint, pacer: pacer, attempts: attempts, commit: commit)
                        let snapshot = shared.state.withLock { state in
                            switch outcome {
                            case .revoked: state.report.revoked += 1
                            case .alreadyRevoked: state.report.alreadyRevoked += 1
                            case .failed(let item): state.report.failed.append(item)
                            }
                            return state.report
                        }
                        if case .failed(let item) = outcome { issue(item) }
                        progress(
                            BulkRefreshProgress(
                                total: total,
                                done: snapshot.revoked + snapshot.failed.count
                                    + snapshot.alreadyRevoked - before,
                                refreshed: snapshot.revoked, failures: snapshot.failed.count,
                                seconds: (clock.now - started).seconds))
                    }
                }
            }
            try await workers.waitForAll()
        }
        try vault.remove(EntryKey(.refreshRun, RevokeRun.name))
        report = shared.state.withLock { $0.report }
        report.seconds = (clock.now - started).seconds
        report.rate = report.seconds > 0 ? Double(report.revoked) / report.seconds : 0
        report.rateLimited = pacer.slowDownCount
        report.settledRate = pacer.settledRate
        logger.info(
            "bulk revocation complete",
            metadata: ["app": "\(app.name)", "revoked": "\(report.revoked)", "failed": "\(report.failed.count)"])
        return report
    }

    /// The run's queue position and report, shared by its workers.
    final class RevokeTally: Sendable {
        let state: Mutex<(next: Int, report: BulkRevokeReport)>
        init(_ report: BulkRevokeReport) { state = Mutex((0, report)) }
    }

    enum RevokeOutcome {
        case revoked, alreadyRevoked
        case failed(BulkRefreshIssue)
    }

    /// One grant, under its entry lock, read again there (a concurrent revoke or refresh may have been
    /// first).
    func revokeOne(
        _ grant: Grant, app: App, endpoint: String, pacer: Pacer, attempts: Int, commit: GroupCommit
    ) async -> RevokeOutcome {
        let key = EntryKey(.grant, grant.entryName)
        do {
            return try await vault.withEntryLock(key) { () async throws -> RevokeOutcome in
                guard let current = try self.vault.entry(Grant.self, named: key.name) else { return .alreadyRevoked }
                if current.revokedAt != nil { return .alreadyRevoked }
                _ = try await self.performRevocation(
                    current, app: app, endpoint: endpoint, pacer: pacer, attempts: attempts, commit: commit)
                return .revoked
            }
        } catch {
            return .failed(BulkRefreshIssue(grant: key.name, reason: Self.oauthError(error).description))
        }
    }
}
