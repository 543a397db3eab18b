import Foundation
import Logging
import Synchronization
public import UPVault

/// How one worker takes part in a refresh campaign.
public struct CampaignWorker: Sendable {
    /// This worker's name in the campaign's claims (random unless given; no host name leaks by default).
    public var name: String
    /// How long a claim lasts without renewal: a worker that stops for longer (dies, hangs, loses its
    /// connection) loses its claims to the others. Renewed every third of it while the worker runs.
    public var lease: Duration

    public init(name: String? = nil, lease: Duration = .seconds(30)) {
        self.name = name ?? "worker-" + Base64URL.randomToken(byteCount: 6)
        self.lease = max(lease, .seconds(1))
    }
}

extension OAuthClient {
    /// Works on the refresh campaign of `store` until none of its grants is left, then returns the
    /// campaign's counts: joins the campaign in progress (with its own options; `requested` gives only
    /// this worker's concurrency and rate), or starts one over the grants `requested` selects. Started on
    /// several hosts against one database, the workers split the grants between them.
    ///
    /// Each grant goes through the single-grant refresh (`refresh(_:unless:)`: entry lock, in-flight mark,
    /// compare-and-set writes): a grant another worker left in flight is never sent again when its
    /// provider rotates refresh tokens (it comes out as needing re-authorization, with the reason), and a
    /// grant refreshed since the campaign started is left alone. Outcomes are recorded per batch of
    /// claims; `resume` only joins a campaign in progress (and fails when there is none).
    public func campaignRefresh(
        in store: any CampaignStore, _ requested: BulkRefreshOptions, resume: Bool = false,
        worker: CampaignWorker = CampaignWorker(),
        progress: @escaping @Sendable (CampaignStatus) -> Void = { _ in },
        issue: @escaping @Sendable (BulkRefreshIssue, _ needsReauthorization: Bool) -> Void = { _, _ in }
    ) async throws -> CampaignStatus {
        // Every store call of a campaign waits for the database: on threads of their own.
        try await withTaskExecutorPreference(BlockingExecutor.shared) {
            try await campaign(in: store, requested, resume: resume, worker: worker, progress: progress, issue: issue)
        }
    }

    private func campaign(
        in store: any CampaignStore, _ requested: BulkRefreshOptions, resume: Bool, worker: CampaignWorker,
        progress: @escaping @Sendable (CampaignStatus) -> Void,
        issue: @escaping @Sendable (BulkRefreshIssue, _ needsReauthorization: Bool) -> Void
    ) async throws -> CampaignStatus {
        try pruneExpiredSecrets()
        let now = self.now()
        let ticket: CampaignTicket
        if resume {
            guard let running = try store.runningCampaign() else { throw BulkRefreshError.nothingToResume }
            ticket = running
        } else {
            let encoded = try JSONEncoder().encode(requested)
            ticket = try store.joinCampaign(options: Array(encoded), startedAt: now) {
                try store.entries(Grant.self).filter { requested.selects($0, now: now) }.map(\.entryName)
            }
        }
        var campaignOptions = try JSONDecoder().decode(BulkRefreshOptions.self, from: Data(ticket.options))
        campaignOptions.concurrency = requested.concurrency
        campaignOptions.rate = requested.rate ?? campaignOptions.rate
        let options = campaignOptions
        logger.info(
            "working on a refresh campaign",
            metadata: ["campaign": "\(ticket.id)", "worker": "\(worker.name)", "started": "\(ticket.started)"])
        let apps = Dictionary(try store.entries(App.self).map { ($0.name, $0) }, uniquingKeysWith: { $1 })
        let pacers = apps.mapValues { Pacer(rate: options.rate ?? $0.rateLimit, sleep: sleep) }

        let heartbeat = Task {
            while !Task.isCancelled {
                try await self.sleep(worker.lease / 3)
                try store.renewLeases(ticket.id, worker: worker.name, lease: worker.lease)
            }
        }
        defer { heartbeat.cancel() }
        var lastProgress = ContinuousClock.now
        while true {
            let claims = try store.claim(
                ticket.id, worker: worker.name, count: options.concurrency * 2, lease: worker.lease)
            if claims.isEmpty {
                if try store.finishCampaign(ticket.id) { break }
                // Others hold the rest: wait for their outcomes, or for their leases to run out.
                try await sleep(min(worker.lease / 4, .seconds(1)))
                continue
            }
            let results = await withTaskGroup(of: CampaignResult.self) { group in
                var results: [CampaignResult] = []
                var next = claims.makeIterator()
                for _ in 0..<options.concurrency {
                    guard let claim = next.next() else { break }
                    group.addTask {
                        await self.campaignOne(
                            claim, ticket: ticket, options: options, apps: apps, pacers: pacers, issue: issue)
                    }
                }
                while let result = await group.next() {
                    results.append(result)
                    if let claim = next.next() {
                        group.addTask {
                            await self.campaignOne(
                                claim, ticket: ticket, options: options, apps: apps, pacers: pacers, issue: issue)
                        }
                    }
                }
                return results
            }
            try store.record(ticket.id, worker: worker.name, outcomes: results)
            // The campaign's counts (a scan of its items) at most once a second.
            if ContinuousClock.now - lastProgress >= .seconds(1), let status = try store.campaignStatus(ticket.id) {
                lastProgress = .now
                progress(status)
            }
        }
        guard let status = try store.campaignStatus(ticket.id) else { throw BulkRefreshError.nothingToResume }
        return status
    }

    /// One claimed grant: read, then refreshed unless someone already did since the campaign started,
    /// with retries for transient failures.
    func campaignOne(
        _ claim: CampaignClaim, ticket: CampaignTicket, options: BulkRefreshOptions, apps: [String: App],
        pacers: [String: Pacer], issue: @Sendable (BulkRefreshIssue, Bool) -> Void
    ) async -> CampaignResult {
        func result(_ outcome: CampaignOutcome) -> CampaignResult { CampaignResult(item: claim.item, outcome: outcome) }
        guard let name = claim.grant else { return result(.skipped) }
        let isDone: @Sendable (Grant) -> Bool = {
            ($0.lastRefreshAt ?? 0) >= ticket.startedAt && $0.refreshStartedAt == nil
        }
        var attempt = 0
        var known = claim.entry.map { ($0, claim.version) }
        while true {
            let grant: Grant
            var version: EntryVersion? = nil
            do {
                if let (claimed, claimedVersion) = known {
                    grant = claimed
                    version = claimedVersion
                    known = nil
                } else {
                    guard let found = try vault.entry(Grant.self, named: name) else { return result(.skipped) }
                    grant = found
                }
            } catch {
                issue(BulkRefreshIssue(grant: name, reason: Self.oauthError(error).description), false)
                return result(.failed)
            }
            guard grant.status == .active else {
                let reason = grant.statusReason ?? grant.status.rawValue.replacing("_", with: " ")
                issue(BulkRefreshIssue(grant: name, reason: reason), true)
                return result(.needsReauthorization)
            }
            if isDone(grant) { return result(.alreadyFresh) }
            await pacers[grant.app]?.acquire()
            do {
                let refreshed = try await refresh(grant, unless: isDone, observedVersion: version, app: apps[grant.app])
                return result(refreshed.accessToken == grant.accessToken ? .alreadyFresh : .refreshed)
            } catch let error where error.needsReauthorization {
                issue(BulkRefreshIssue(grant: name, reason: error.description), true)
                return result(.needsReauthorization)
            } catch .vault(.conflict) {
                continue  // written by someone else in between: read it again
            } catch let error where error.isTransient {
                attempt += 1
                if case .rateLimited = error { pacers[grant.app]?.slowDown() }
                if attempt >= options.maximumAttempts {
                    issue(
                        BulkRefreshIssue(grant: name, reason: "\(error.description) (after \(attempt) attempts)"), false
                    )
                    return result(.failed)
                }
                let ceiling = min(8.0, 0.1 * Double(1 << min(attempt, 10)))
                try? await sleep(.seconds(Double.random(in: ceiling / 2...ceiling)))
            } catch {
                issue(BulkRefreshIssue(grant: name, reason: error.description), false)
                return result(.failed)
            }
        }
    }
}

extension BulkRefreshProgress {
    /// A campaign's counts as a progress line (all workers' work, not only this one's).
    public init(_ status: CampaignStatus) {
        self.init(
            total: status.total, done: status.done, refreshed: status.refreshed,
            failures: status.failed + status.needsReauthorization,
            seconds: Double(max(0, Int64(Date().timeIntervalSince1970) - status.startedAt)))
    }
}
