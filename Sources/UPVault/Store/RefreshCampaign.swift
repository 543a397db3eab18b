/// A bulk refresh shared by several workers (processes on one host or many) on a store they all reach
/// (`PostgresVault`): a campaign holds the selected grants; each worker claims batches of them under a
/// lease it keeps renewing, refreshes them, and records each one's outcome. A worker that dies leaves
/// its claims to run out; another worker then takes them up before anything new. The grants themselves
/// are refreshed by the single-grant path (entry lock, in-flight mark, compare-and-set writes), so a
/// refresh token is sent at most once whatever dies.
public protocol CampaignStore: VaultStore {
    /// The campaign in progress (joined), or, when none is, a new one over the grants `select` names
    /// (called only then) with `options` (a JSON object, kept encrypted in the store) and `startedAt`.
    func joinCampaign(
        options: [UInt8], startedAt: Int64, select: () throws -> [String]
    ) throws -> CampaignTicket
    /// The campaign in progress, if any.
    func runningCampaign() throws -> CampaignTicket?
    /// Claims up to `count` of the campaign's grants for `worker` until `lease` from now: first those
    /// whose lease ran out (a worker died with them), then waiting ones. Each comes with the number of
    /// claims it had before this one.
    func claim(_ campaign: Int64, worker: String, count: Int, lease: Duration) throws -> [CampaignClaim]
    /// Moves the lease of every grant `worker` holds in the campaign to `lease` from now.
    func renewLeases(_ campaign: Int64, worker: String, lease: Duration) throws
    /// Records outcomes of grants `worker` holds; a grant whose claim another worker has taken over is
    /// left to that worker.
    func record(_ campaign: Int64, worker: String, outcomes: [CampaignResult]) throws
    /// Ends the campaign when none of its grants is waiting or claimed; whether it has ended.
    func finishCampaign(_ campaign: Int64) throws -> Bool
    /// The campaign's counts: `campaign`, else the one in progress, else the last one; nil when none.
    func campaignStatus(_ campaign: Int64?) throws -> CampaignStatus?
}

/// A campaign a worker works on.
public struct CampaignTicket: Sendable, Equatable {
    public var id: Int64
    public var startedAt: Int64
    /// The campaign's options (the JSON given when it started).
    public var options: [UInt8]
    /// Whether this call started it.
    public var started: Bool

    public init(id: Int64, startedAt: Int64, options: [UInt8], started: Bool) {
        self.id = id
        self.startedAt = startedAt
        self.options = options
        self.started = started
    }
}

/// One grant claimed by a worker.
public struct CampaignClaim: Sendable, Equatable {
    /// The grant's name, `APP/USER`; nil when its entry is gone.
    public var grant: String?
    /// Identifies the item for `record` whatever its grant became.
    public var item: [UInt8]
    /// Claims before this one: more than 0 means another worker had it and stopped (died) without an
    /// outcome, so a refresh of it may have been cut off.
    public var previousClaims: Int
    /// The grant as the claim read it, and its version (its refresh's first write is conditional on it).
    public var entry: Grant?
    public var version: EntryVersion?

    public init(
        grant: String?, item: [UInt8], previousClaims: Int, entry: Grant? = nil, version: EntryVersion? = nil
    ) {
        self.grant = grant
        self.item = item
        self.previousClaims = previousClaims
        self.entry = entry
        self.version = version
    }
}

/// What became of one grant of a campaign.
public enum CampaignOutcome: Int16, Sendable, Codable, CaseIterable {
    case refreshed = 1
    /// Refreshed by someone else since the campaign started (a token call, another worker).
    case alreadyFresh = 2
    /// The provider refused its refresh token, it was revoked, or an interrupted refresh cannot be sent
    /// again: the user must log in again.
    case needsReauthorization = 3
    /// Failed past the last attempt (or could not be tried).
    case failed = 4
    /// Not active when its turn came, or removed from the vault.
    case skipped = 5
}

public struct CampaignResult: Sendable, Equatable {
    public var item: [UInt8]
    public var outcome: CampaignOutcome

    public init(item: [UInt8], outcome: CampaignOutcome) {
        self.item = item
        self.outcome = outcome
    }
}

/// A campaign's counts, as `upvault refresh --status` shows them.
public struct CampaignStatus: Sendable, Equatable, Codable {
    public var id: Int64
    public var startedAt: Int64
    public var finishedAt: Int64?
    public var total: Int
    public var waiting: Int
    public var claimed: Int
    public var refreshed: Int
    public var alreadyFresh: Int
    public var needsReauthorization: Int
    public var failed: Int
    public var skipped: Int
    /// Workers holding claims now.
    public var workers: Int
    /// Grants done per second over the last minute (since the start when younger).
    public var rate: Double
    /// Seconds left at that rate; nil when nothing is moving or nothing is left.
    public var etaSeconds: Int64?

    public var done: Int { refreshed + alreadyFresh + needsReauthorization + failed + skipped }
    public var left: Int { waiting + claimed }

    public init(
        id: Int64, startedAt: Int64, finishedAt: Int64?, total: Int, waiting: Int, claimed: Int, refreshed: Int,
        alreadyFresh: Int, needsReauthorization: Int, failed: Int, skipped: Int, workers: Int, rate: Double,
        etaSeconds: Int64?
    ) {
        self.id = id
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.total = total
        self.waiting = waiting
        self.claimed = claimed
        self.refreshed = refreshed
        self.alreadyFresh = alreadyFresh
        self.needsReauthorization = needsReauthorization
        self.failed = failed
        self.skipped = skipped
        self.workers = workers
        self.rate = rate
        self.etaSeconds = etaSeconds
    }

    enum CodingKeys: String, CodingKey {
        case id, total, waiting, claimed, refreshed, failed, skipped, workers, rate
        case startedAt = "started_at"
        case finishedAt = "finished_at"
        case alreadyFresh = "already_fresh"
        case needsReauthorization = "needs_reauthorization"
        case etaSeconds = "eta_seconds"
    }
}
