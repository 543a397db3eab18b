import Logging
import UPVault

/// A grant handed to a bulk refresh worker.
enum BulkWork: Sendable {
    /// Locked by the run and current: send it.
    case ready(Grant)
    /// Another process held its lock when its window was prepared: lock and read it again first.
    case contended(Grant)

    var grant: Grant {
        switch self {
        case .ready(let grant), .contended(let grant): grant
        }
    }
}

/// The outcome of one grant in a bulk refresh.
enum BulkOutcome: Sendable {
    /// New tokens, to be made durable.
    case refreshed(Grant)
    /// The provider refused the refresh token (or the user revoked): the grant, marked, to be stored.
    case reauthorization(Grant, reason: String)
    /// Someone else refreshed (or removed) it since the run read it.
    case alreadyFresh
    /// Transient failures past the last attempt, or an error that retrying cannot fix.
    case failed(reason: String)
}

extension OAuthClient {
    /// Refreshes every selected grant: bounded concurrency over pooled connections, retries with
    /// exponential back-off and jitter for transient failures, a run-wide pause on 429 (Retry-After),
    /// results group-committed (`batchSize` per `fdatasync` at most, and whatever arrived during the previous
    /// sync at least every `BulkRun.commitInterval`). A grant counts
    /// as done only once its new tokens are durable. The run's journal (a `RefreshRun` entry) names the
    /// grants whose requests may be at the provider, so that after a crash the next run takes them up
    /// first; `resume` continues an interrupted run with its own options.
    ///
    /// Runs on a `Vault` (this process's, or the agent's); each grant is refreshed under its entry lock,
    /// so a concurrent `upvault token` never refreshes the same grant at the same time.
    public func bulkRefresh(
        _ requested: BulkRefreshOptions, resume: Bool = false, dryRun: Bool = false,
        progress: @escaping @Sendable (BulkRefreshProgress) -> Void = { _ in },
        issue: @escaping @Sendable (BulkRefreshIssue, _ needsReauthorization: Bool) -> Void = { _, _ in }
    ) async throws -> BulkRefreshReport {
        guard let vault = vault as? Vault else { throw BulkRefreshError.needsVault }
        // Secrets past their grace window are erased first: a run must not try them.
        try pruneExpiredSecrets()
        let clock = ContinuousClock()
        let started = clock.now
        let now = self.now()
        let previous = try vault.entry(RefreshRun.self, named: RefreshRun.name)
        if resume && previous == nil { throw BulkRefreshError.nothingToResume }
        var options = resume ? previous!.options : requested
        if resume {
            options.concurrency = requested.concurrency
            options.rate = requested.rate ?? options.rate
        }
        let runStart = resume ? previous!.startedAt : now
        let interrupted = Set(previous?.inFlight ?? [])

        var report = BulkRefreshReport()
        report.dryRun = dryRun
        var queue: [(grant: Grant, version: EntryVersion)] = []
        for (grant, version) in try vault.versionedEntries(Grant.self) {
            let wasInFlight = interrupted.contains(grant.entryName)
            guard wasInFlight || options.selects(grant, now: now) else { continue }
            report.selected += 1
            if resume && !wasInFlight && (grant.lastRefreshAt ?? 0) >= runStart {
                report.alreadyFresh += 1
                continue
            }
            guard grant.status == .active else {
                let item = BulkRefreshIssue(
                    grant: grant.entryName,
                    reason: grant.statusReason ?? grant.status.rawValue.replacing("_", with: " "))
                report.needsReauthorization.append(item)
                issue(item, true)
                continue
            }
            if wasInFlight { report.resumedInFlight += 1 }
            queue.append((grant, version))
        }
        // The interrupted ones first: their refresh tokens may be the only ones at risk.
        queue.sort { interrupted.contains($0.grant.entryName) && !interrupted.contains($1.grant.entryName) }
        if dryRun {
            report.seconds = (clock.now - started).seconds
            return report
        }
        let apps = Dictionary(try vault.entries(App.self).map { ($0.name, $0) }, uniquingKeysWith: { $1 })
        // One pacer per app (a rate limit is the provider's, per client): --rate, else the app's own.
        let pacers = apps.mapValues { Pacer(rate: options.rate ?? $0.rateLimit, sleep: sleep) }
        let pacedAt = Set(queue.map(\.grant.app)).compactMap { pacers[$0]?.rate }.min()
        let journal = RefreshRun(
            id: Base64URL.randomToken(byteCount: 12), startedAt: runStart, options: options,
            inFlight: Array(interrupted).sorted())
        let run = try BulkRun(
            vault: vault, queue: queue, journal: journal, options: options, report: report, interrupted: interrupted,
            started: started, progress: progress, issue: issue)

        // Versions are compared across the run's commits: no rewrite in the middle of it.
        try await vault.deferringCompaction {
            try await runWorkers(run, options: options, apps: apps, pacers: pacers)
        }
        var final = await run.report
        final.pacedAt = pacedAt
        final.rateLimited = pacers.values.reduce(0) { $0 + $1.slowDownCount }
        final.settledRate = pacers.values.compactMap(\.settledRate).min()
        return final
    }

    private func runWorkers(
        _ run: BulkRun, options: BulkRefreshOptions, apps: [String: App], pacers: [String: Pacer]
    ) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                while await !run.isFinished {
                    try await Task.sleep(for: BulkRun.commitInterval)
                    try await run.flush()
                }
            }
            try await withThrowingTaskGroup(of: Void.self) { workers in
                for _ in 0..<options.concurrency {
                    workers.addTask {
                        while let work = try await run.next() {
                            let outcome = await self.refreshOne(work, apps: apps, run: run, pacers: pacers)
                            try await run.finish(work.grant, outcome)
                        }
                    }
                }
                try await workers.waitForAll()
            }
            try await run.complete()
            group.cancelAll()
        }
    }

    /// One grant: locked and checked in its window by the run (`ready`), or, when another process held
    /// it then (`contended`), its lock and a re-read here; then the refresh with retries.
    func refreshOne(
        _ work: BulkWork, apps: [String: App], run: BulkRun, pacers: [String: Pacer] = [:]
    ) async -> BulkOutcome {
        let current: Grant
        switch work {
        case .ready(let grant):
            current = grant
        case .contended(let grant):
            let key = EntryKey(.grant, grant.entryName)
            do {
                var waited = 0
                while try !run.locks.tryLock(key) {
                    waited += 1
                    if waited > 1500 { return .failed(reason: "another process held the grant for 30 s") }
                    try await Task.sleep(for: .milliseconds(20))
                }
                guard let stored = try vault.entry(Grant.self, named: grant.entryName) else { return .alreadyFresh }
                current = stored
            } catch {
                return .failed(reason: Self.oauthError(error).description)
            }
            guard current.accessToken == grant.accessToken, current.status == .active else { return .alreadyFresh }
        }
        let grant = current
        guard let app = apps[grant.app] else { return .failed(reason: "its app \(grant.app) is not in the vault") }
        // A single refresh (`upvault token`) was cut off after its request left: the same rule as there.
        if let marked = grant.cutOff(rotating: app.rotatesRefreshTokens) {
            return .reauthorization(marked, reason: OAuthClient.interruptedReason)
        }
        let fields: [(String, String)]
        if grant.grantType == .clientCredentials {
            fields = Self.clientCredentialsFields(grant.scope)  // an app grant: requested anew
        } else if let refreshToken = current.refreshToken {
            fields = [("grant_type", "refresh_token"), ("refresh_token", refreshToken)]
        } else {
            return .failed(reason: OAuthError.noRefreshToken(grant: grant.entryName).description)
        }
        var attempt = 0
        while true {
            await run.waitWhilePaused()
            await pacers[app.name]?.acquire()
            do {
                let (response, secret) = try await tokenRequest(app: app, fields: fields)
                return .refreshed(
                    current.refreshed(
                        with: response, at: now(), fingerprint: secret?.fingerprint(clientID: app.clientID)))
            } catch .providerError(let code, let reason, _) where code == "invalid_grant" || code == "access_denied" {
                var marked = current
                marked.refreshStartedAt = nil
                marked.status = code == "invalid_grant" ? .needsReauthorization : .revoked
                let interrupted = run.interrupted.contains(grant.entryName)
                marked.statusReason =
                    interrupted
                    ? "\(code): the refresh was in flight when an earlier run was interrupted, and the provider had already consumed the refresh token"
                    : "\(code): \(reason)"
                return .reauthorization(marked, reason: marked.statusReason!)
            } catch let error where error.isTransient {
                attempt += 1
                if case .rateLimited(let after) = error {
                    pacers[app.name]?.slowDown()
                    await run.pause(seconds: after ?? 1)
                }
                if attempt >= run.options.maximumAttempts {
                    return .failed(reason: "\(error.description) (after \(attempt) attempts)")
                }
                // Exponential back-off with full jitter: 0.1 s, 0.2 s, 0.4 s ... capped at 8 s.
                let ceiling = min(8.0, 0.1 * Double(1 << min(attempt, 10)))
                try? await Task.sleep(for: .seconds(Double.random(in: ceiling / 2...ceiling)))
            } catch {
                return .failed(reason: error.description)
            }
        }
    }
}

/// The shared state of one bulk refresh: the queue, the journal, results waiting for their batch.
actor BulkRun {
    /// How long a result may wait for its batch. Short, because with a provider that rotates refresh
    /// tokens every result not yet durable when the process dies is a user to log in again; the batch
    /// is still whatever arrived during the previous sync, so a fast run does not sync per grant.
    static let commitInterval = Duration.milliseconds(2)

    let vault: Vault
    let locks: EntryLockSet
    let options: BulkRefreshOptions
    let interrupted: Set<String>
    /// The selected grants, each with the version the run read.
    private let queue: [(grant: Grant, version: EntryVersion)]
    private var nextIndex = 0
    /// The current window: locked and unchanged since the run read them (or read again), ready to send.
    private var ready: [Grant] = []
    private var readyIndex = 0
    /// Grants another process held when their window was prepared: taken up at the end, one by one.
    private var contended: [Grant] = []
    private var contendedIndex = 0
    private var journal: RefreshRun
    /// The journal's options, encoded once: each batch writes the journal again.
    private let optionsJSON: [UInt8]
    private var pending: [(Grant, BulkOutcome)] = []
    private var pauseUntil: ContinuousClock.Instant?
    private(set) var report: BulkRefreshReport
    private(set) var isFinished = false
    private var done = 0
    private let started: ContinuousClock.Instant
    private let progress: @Sendable (BulkRefreshProgress) -> Void
    private let issue: @Sendable (BulkRefreshIssue, Bool) -> Void

    init(
        vault: Vault, queue: [(grant: Grant, version: EntryVersion)], journal: RefreshRun, options: BulkRefreshOptions,
        report: BulkRefreshReport,
        interrupted: Set<String>, started: ContinuousClock.Instant,
        progress: @escaping @Sendable (BulkRefreshProgress) -> Void,
        issue: @escaping @Sendable (BulkRefreshIssue, Bool) -> Void
    ) throws {
        self.vault = vault
        locks = try EntryLockSet(vault: vault)
        self.queue = queue
        self.journal = journal
        optionsJSON = try RefreshRun.optionsJSON(journal.options)
        self.options = options
        self.report = report
        self.interrupted = interrupted
        self.started = started
        self.progress = progress
        self.issue = issue
        try vault.put(journal)
    }

    /// The next grant to send, after the journal names it as in flight (durably).
    func next() throws -> BulkWork? {
        while readyIndex == ready.count {
            guard nextIndex < queue.count else {
                guard contendedIndex < contended.count else { return nil }
                defer { contendedIndex += 1 }
                return .contended(contended[contendedIndex])
            }
            try prepareWindow()
        }
        defer { readyIndex += 1 }
        return .ready(ready[readyIndex])
    }

    /// The next window of grants: named in the journal (one durable write), their entry locks taken,
    /// and their versions compared with what the run read, all at once: one look at the file for the
    /// window instead of a lock, a read and a decryption per grant. A grant written since (by a token
    /// call, say) is read again, and left alone if its tokens changed.
    private func prepareWindow() throws {
        let window = queue[nextIndex..<min(queue.count, nextIndex + max(options.concurrency * 4, 256))]
        nextIndex = window.endIndex
        ready.removeAll(keepingCapacity: true)
        readyIndex = 0
        journal.inFlight.append(contentsOf: window.map(\.grant.entryName))
        try commit()
        var locked: [(grant: Grant, version: EntryVersion)] = []
        for item in window {
            if try locks.tryLock(EntryKey(.grant, item.grant.entryName)) {
                locked.append(item)
            } else {
                contended.append(item.grant)
            }
        }
        let versions = try vault.versions(of: locked.map { EntryKey(.grant, $0.grant.entryName) })
        for (item, version) in zip(locked, versions) {
            if version == item.version {
                ready.append(item.grant)
                continue
            }
            if let stored = try vault.entry(Grant.self, named: item.grant.entryName),
                stored.accessToken == item.grant.accessToken, stored.status == .active
            {
                ready.append(stored)
            } else {
                pending.append((item.grant, .alreadyFresh))  // its lock goes with the next commit
            }
        }
    }

    func finish(_ grant: Grant, _ outcome: BulkOutcome) throws {
        pending.append((grant, outcome))
        if pending.count >= options.batchSize { try commit() }
    }

    /// Commits what is pending (the timer's call).
    func flush() throws {
        if !pending.isEmpty { try commit() }
    }

    /// The last batch, and the journal removed: the run is over.
    func complete() throws {
        try commit(final: true)
        isFinished = true
    }

    /// One batch: every result's grant and the journal, in one write and one `fdatasync`. Only then
    /// are the results counted, and the grants' locks released.
    private func commit(final: Bool = false) throws {
        let batch = pending
        pending.removeAll(keepingCapacity: true)
        let finishedNames = Set(batch.map { $0.0.entryName })
        journal.inFlight.removeAll { finishedNames.contains($0) }
        let journal = final ? [] : self.journal.encodedJSON(optionsJSON: optionsJSON)
        try vault.write { transaction in
            for (_, outcome) in batch {
                switch outcome {
                case .refreshed(let grant), .reauthorization(let grant, _): try transaction.put(grant)
                case .alreadyFresh, .failed: break
                }
            }
            if final {
                transaction.remove(EntryKey(.refreshRun, RefreshRun.name))
            } else {
                try journal.withUnsafeBytes { try transaction.put(EntryKey(.refreshRun, RefreshRun.name), bytes: $0) }
            }
        }
        for (grant, outcome) in batch {
            locks.unlock(EntryKey(.grant, grant.entryName))
            done += 1
            switch outcome {
            case .refreshed: report.refreshed += 1
            case .alreadyFresh: report.alreadyFresh += 1
            case .reauthorization(_, let reason):
                let item = BulkRefreshIssue(grant: grant.entryName, reason: reason)
                report.needsReauthorization.append(item)
                issue(item, true)
            case .failed(let reason):
                let item = BulkRefreshIssue(grant: grant.entryName, reason: reason)
                report.failed.append(item)
                issue(item, false)
            }
        }
        let seconds = (ContinuousClock.now - started).seconds
        report.seconds = seconds
        report.rate = seconds > 0 ? Double(report.refreshed) / seconds : 0
        if !batch.isEmpty || final {
            progress(
                BulkRefreshProgress(
                    total: queue.count, done: done, refreshed: report.refreshed,
                    failures: report.failed.count + report.needsReauthorization.count, seconds: seconds))
        }
    }

    /// 429: every worker waits at least this long before its next request.
    func pause(seconds: Int) {
        let until = ContinuousClock.now.advanced(by: .seconds(max(1, min(seconds, 300))))
        if pauseUntil.map({ until > $0 }) ?? true { pauseUntil = until }
    }

    func waitWhilePaused() async {
        while let until = pauseUntil, until > ContinuousClock.now {
            try? await Task.sleep(until: until, clock: .continuous)
        }
    }
}

extension Duration {
    var seconds: Double {
        let (whole, fraction) = components
        return Double(whole) + Double(fraction) / 1e18
    }
}
