import FoundationEssentials
public import UPVault

/// Which grants a bulk refresh takes, and how it behaves. Times are Unix seconds.
public struct BulkRefreshOptions: Codable, Sendable, Equatable {
    /// Only this app's grants (all apps when nil).
    public var app: String?
    /// Only these users (every user of the selected apps when nil: `--all`).
    public var users: [String]?
    public var issuedBefore: Int64?
    /// Grants whose access token expires within this many seconds (and those whose expiry is unknown).
    public var expiringWithin: Int64?
    /// Grants last refreshed (or issued, when never refreshed) before this time.
    public var refreshedBefore: Int64?
    /// Requests in flight at once.
    public var concurrency: Int
    /// Attempts per grant for transient failures (5xx, 429, time-outs, dropped connections).
    public var maximumAttempts: Int
    /// Results committed per `fdatasync` at most.
    public var batchSize: Int
    /// Requests per second to each app's provider at most; nil: each app's own rate limit, or none.
    public var rate: Double?

    public init(
        app: String? = nil, users: [String]? = nil, issuedBefore: Int64? = nil, expiringWithin: Int64? = nil,
        refreshedBefore: Int64? = nil, concurrency: Int = 32, maximumAttempts: Int = 8, batchSize: Int = 512,
        rate: Double? = nil
    ) {
        self.rate = rate
        self.app = app
        self.users = users
        self.issuedBefore = issuedBefore
        self.expiringWithin = expiringWithin
        self.refreshedBefore = refreshedBefore
        self.concurrency = max(1, min(concurrency, 512))
        self.maximumAttempts = max(1, maximumAttempts)
        self.batchSize = max(1, batchSize)
    }

    enum CodingKeys: String, CodingKey {
        case app, users, concurrency, rate
        case issuedBefore = "issued_before"
        case expiringWithin = "expiring_within"
        case refreshedBefore = "refreshed_before"
        case maximumAttempts = "maximum_attempts"
        case batchSize = "batch_size"
    }

    /// Whether a grant falls in the selection at `now`.
    func selects(_ grant: Grant, now: Int64) -> Bool {
        if let app, grant.app != app { return false }
        if let users, !users.contains(grant.user) { return false }
        if let issuedBefore, grant.issuedAt >= issuedBefore { return false }
        if let expiringWithin, let expiresAt = grant.expiresAt, expiresAt - now > expiringWithin { return false }
        if let refreshedBefore, (grant.lastRefreshAt ?? grant.issuedAt) >= refreshedBefore { return false }
        return true
    }
}

/// The journal of a bulk refresh, kept in the vault while it runs: its options and start (for
/// `--resume`), and the grants whose refresh request may be at the provider right now (for the run
/// after a crash). Removed when the run completes.
public struct RefreshRun: CodableEntry, Equatable {
    public static let kind = EntryKind.refreshRun
    public static let name = "current"

    public var id: String
    public var startedAt: Int64
    public var options: BulkRefreshOptions
    /// Grant names (`APP/USER`) sent to the provider whose results are not yet durable.
    public var inFlight: [String]

    public var entryName: String { Self.name }

    enum CodingKeys: String, CodingKey {
        case id, options
        case startedAt = "started_at"
        case inFlight = "in_flight"
    }
}

extension RefreshRun {
    /// The journal's JSON, the bytes `JSONEncoder` with sorted keys writes, built by hand around the
    /// options' own (`optionsJSON`, encoded once per run): a bulk run writes its journal with every
    /// batch, hundreds of names each time, and `JSONEncoder` was a visible share of the run's CPU.
    func encodedJSON(optionsJSON: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(64 + optionsJSON.count + inFlight.reduce(0) { $0 + $1.utf8.count + 3 })
        out.append(contentsOf: #"{"id":"#.utf8)
        JSONText.appendString(id, to: &out)
        out.append(contentsOf: #","in_flight":["#.utf8)
        for (index, name) in inFlight.enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            JSONText.appendString(name, to: &out)
        }
        out.append(contentsOf: #"],"options":"#.utf8)
        out.append(contentsOf: optionsJSON)
        out.append(contentsOf: #","started_at":"#.utf8)
        JSONText.appendInteger(startedAt, to: &out)
        out.append(UInt8(ascii: "}"))
        return out
    }

    /// `options` as `JSONEncoder` with sorted keys writes it.
    static func optionsJSON(_ options: BulkRefreshOptions) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return Array(try encoder.encode(options))
    }
}

/// One grant that did not end refreshed.
public struct BulkRefreshIssue: Codable, Sendable, Equatable {
    public var grant: String
    public var reason: String
}

/// What a bulk refresh did.
public struct BulkRefreshReport: Codable, Sendable, Equatable {
    public var selected = 0
    public var refreshed = 0
    /// Refreshed by someone else since the run started (another process, or before an interruption).
    public var alreadyFresh = 0
    /// Grants whose refresh was in flight when an earlier run died, taken up again.
    public var resumedInFlight = 0
    public var needsReauthorization: [BulkRefreshIssue] = []
    public var failed: [BulkRefreshIssue] = []
    public var seconds = 0.0
    /// Durable refreshes per second.
    public var rate = 0.0
    public var dryRun = false
    /// Requests per second the run was paced at from the start (nil: unpaced).
    public var pacedAt: Double?
    /// How many times the provider answered 429, and the rate requests left at once the run had slowed
    /// down (nil: never).
    public var rateLimited = 0
    public var settledRate: Double?

    public init() {}

    enum CodingKeys: String, CodingKey {
        case selected, refreshed, failed, seconds, rate
        case alreadyFresh = "already_fresh"
        case resumedInFlight = "resumed_in_flight"
        case needsReauthorization = "needs_reauthorization"
        case dryRun = "dry_run"
        case pacedAt = "paced_at"
        case rateLimited = "rate_limited"
        case settledRate = "settled_rate"
    }
}

/// Progress, reported after each durable batch.
public struct BulkRefreshProgress: Sendable {
    public var total: Int
    public var done: Int
    public var refreshed: Int
    public var failures: Int
    public var seconds: Double
}

/// What can stop a bulk refresh before it starts.
public enum BulkRefreshError: Error, Sendable, Equatable, CustomStringConvertible {
    /// `--resume` with no interrupted run in the vault.
    case nothingToResume
    /// Bulk refresh needs the vault itself (in this process, or in the agent).
    case needsVault
    /// A refresh campaign needs a vault that keeps campaigns (a database vault, here or in the agent).
    case noCampaigns

    public var description: String {
        switch self {
        case .nothingToResume: "there is no interrupted refresh run to resume"
        case .needsVault: "a bulk refresh runs on the vault itself (directly or in the agent)"
        case .noCampaigns: "refresh campaigns are kept by a database vault; a vault file's run reports as it goes"
        }
    }
}
