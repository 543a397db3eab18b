public import UPVault

/// Which grants a bulk revocation takes, and how it behaves. Times are Unix seconds.
public struct BulkRevokeOptions: Codable, Sendable, Equatable {
    /// The app whose grants are revoked (a bulk revocation is always of one app).
    public var app: String
    /// Only grants issued before this time (all of the app's grants when nil).
    public var issuedBefore: Int64?
    /// Grants in progress at once.
    public var concurrency: Int
    /// Attempts per grant for transient failures (5xx, 429, time-outs, dropped connections).
    public var maximumAttempts: Int
    /// Requests per second at most; nil: the app's rate limit, or none.
    public var rate: Double?

    public init(
        app: String, issuedBefore: Int64? = nil, concurrency: Int = 8, maximumAttempts: Int = 8, rate: Double? = nil
    ) {
        self.app = app
        self.issuedBefore = issuedBefore
        self.concurrency = max(1, min(concurrency, 256))
        self.maximumAttempts = max(1, maximumAttempts)
        self.rate = rate
    }

    enum CodingKeys: String, CodingKey {
        case app, concurrency, rate
        case issuedBefore = "issued_before"
        case maximumAttempts = "maximum_attempts"
    }

    func selects(_ grant: Grant) -> Bool {
        grant.app == app && (issuedBefore.map { grant.issuedAt < $0 } ?? true)
    }
}

/// The journal of a bulk revocation, kept in the vault while it runs (kind 4, name `revoke`): its
/// options and start, for `--resume`. Which grants are done or in flight is in each grant's receipt.
public struct RevokeRun: CodableEntry, Equatable {
    public static let kind = EntryKind.refreshRun
    public static let name = "revoke"

    public var id: String
    public var startedAt: Int64
    public var options: BulkRevokeOptions

    public var entryName: String { Self.name }

    enum CodingKeys: String, CodingKey {
        case id, options
        case startedAt = "started_at"
    }
}

/// What a bulk revocation did.
public struct BulkRevokeReport: Codable, Sendable, Equatable {
    public var selected = 0
    public var revoked = 0
    /// Revoked before this run (by an earlier, interrupted run, or one by one).
    public var alreadyRevoked = 0
    /// Grants whose revocation was in flight when an earlier run died, sent again first.
    public var resumedInFlight = 0
    public var failed: [BulkRefreshIssue] = []
    public var seconds = 0.0
    /// Revocations per second.
    public var rate = 0.0
    /// Requests per second the run was paced at from the start (nil: unpaced).
    public var pacedAt: Double?
    /// How many times the provider answered 429, and the rate requests left at once the run had slowed
    /// down (nil: never).
    public var rateLimited = 0
    public var settledRate: Double?

    public init() {}

    enum CodingKeys: String, CodingKey {
        case selected, revoked, failed, seconds, rate
        case alreadyRevoked = "already_revoked"
        case resumedInFlight = "resumed_in_flight"
        case pacedAt = "paced_at"
        case rateLimited = "rate_limited"
        case settledRate = "settled_rate"
    }
}
