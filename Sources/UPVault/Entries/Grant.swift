/// One user's authorization of one app: the tokens and what is known about them.
public struct Grant: CodableEntry, Equatable {
    public static let kind = EntryKind.grant

    public enum Status: String, Codable, Sendable {
        case active
        /// The provider refused the refresh token (`invalid_grant`): the user must log in again.
        case needsReauthorization = "needs_reauthorization"
        /// The user removed the app (`access_denied` on refresh), or `upvault revoke` revoked it.
        case revoked
    }

    /// How a grant is renewed when it is not renewed with its refresh token.
    public enum GrantType: String, Codable, Sendable {
        /// An app-level grant (RFC 6749 §4.4): no user, no refresh token; a new token is requested with
        /// the client's credentials when the old one expires.
        case clientCredentials = "client_credentials"
    }

    /// The user label of an app's client-credentials grant (`APP/@app`).
    public static let appUser = "@app"

    public var app: String
    /// A local label for the user.
    public var user: String
    /// The provider's id for the user, when known (Jawbone's `xid`).
    public var providerUserID: String?
    public var accessToken: String
    public var refreshToken: String?
    public var tokenType: String
    public var scope: String?
    /// Unix seconds.
    public var issuedAt: Int64
    /// Unix seconds (UTC); nil when unknown (imported tokens).
    public var expiresAt: Int64?
    public var lastRefreshAt: Int64?
    /// Which client secret obtained the current tokens (a fingerprint, never the secret).
    public var secretFingerprint: String?
    public var status: Status
    public var statusReason: String?
    /// Set, durably, just before a refresh request leaves and cleared with its result: found set by
    /// the next refresher (which holds the grant's lock, so whoever set it is gone), it says a refresh
    /// was cut off and the provider may already have redeemed the refresh token.
    public var refreshStartedAt: Int64?
    /// Set for a client-credentials grant; nil for a user's grant.
    public var grantType: GrantType?
    /// The revocation receipt (RFC 7009), kept with the grant: set, durably, just before the revocation
    /// request leaves, and cleared when the provider's answer is stored.
    public var revocationStartedAt: Int64?
    /// When the provider confirmed the revocation (Unix seconds).
    public var revokedAt: Int64?
    /// The endpoint that confirmed it (without query), and its HTTP status.
    public var revocationEndpoint: String?
    public var revocationStatus: Int64?
    /// Why the last revocation attempt failed; nil once it succeeds.
    public var revocationError: String?

    public var entryName: String { "\(app)/\(user)" }

    public init(
        app: String, user: String, providerUserID: String? = nil, accessToken: String, refreshToken: String?,
        tokenType: String = "Bearer", scope: String? = nil, issuedAt: Int64, expiresAt: Int64?,
        lastRefreshAt: Int64? = nil, secretFingerprint: String? = nil, status: Status = .active,
        statusReason: String? = nil
    ) {
        self.app = app
        self.user = user
        self.providerUserID = providerUserID
        self.accessToken = accessToken
        self.refreshToken = refreshToken
        self.tokenType = tokenType
        self.scope = scope
        self.issuedAt = issuedAt
        self.expiresAt = expiresAt
        self.lastRefreshAt = lastRefreshAt
        self.secretFingerprint = secretFingerprint
        self.status = status
        self.statusReason = statusReason
    }

    enum CodingKeys: String, CodingKey {
        case app, user, scope, status
        case providerUserID = "provider_user_id"
        case accessToken = "access_token"
        case refreshToken = "refresh_token"
        case tokenType = "token_type"
        case issuedAt = "issued_at"
        case expiresAt = "expires_at"
        case lastRefreshAt = "last_refresh_at"
        case secretFingerprint = "secret_fingerprint"
        case statusReason = "status_reason"
        case refreshStartedAt = "refresh_started_at"
        case grantType = "grant_type"
        case revocationStartedAt = "revocation_started_at"
        case revokedAt = "revoked_at"
        case revocationEndpoint = "revocation_endpoint"
        case revocationStatus = "revocation_status"
        case revocationError = "revocation_error"
    }
}

/// A grant without its tokens: what may be listed and printed.
public struct GrantSummary: Codable, Sendable, Equatable {
    public var app: String
    public var user: String
    public var status: String
    public var statusReason: String?
    public var issuedAt: UnixTime
    public var expiresAt: UnixTime?
    public var lastRefreshAt: UnixTime?
    public var hasRefreshToken: Bool
    public var secretFingerprint: String?
    public var grantType: String?
    public var revokedAt: UnixTime?
    public var revocationError: String?
    public var revocationPending: Bool
    /// A refresh's request may be at the provider with no answer recorded: one running now, or one cut
    /// off (the in-flight mark; see `upvault audit`).
    public var refreshPending: Bool

    public init(_ grant: Grant) {
        app = grant.app
        user = grant.user
        status = grant.status.rawValue
        statusReason = grant.statusReason
        issuedAt = UnixTime(grant.issuedAt)
        expiresAt = grant.expiresAt.map(UnixTime.init)
        lastRefreshAt = grant.lastRefreshAt.map(UnixTime.init)
        hasRefreshToken = grant.refreshToken != nil
        secretFingerprint = grant.secretFingerprint
        grantType = grant.grantType?.rawValue
        revokedAt = grant.revokedAt.map(UnixTime.init)
        revocationError = grant.revocationError
        revocationPending = grant.revocationStartedAt != nil
        refreshPending = grant.refreshStartedAt != nil
    }
}
