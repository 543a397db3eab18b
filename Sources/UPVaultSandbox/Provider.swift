public import Synchronization
import UPVault

#if canImport(Glibc)
import Glibc
#endif

/// The provider's whole state: clients, users, grants, codes, switches, faults and counters, behind
/// one mutex. Everything a test or benchmark needs to see is in `Statistics`.
public final class Provider: Sendable {
    public struct ClientSecret: Sendable {
        public var value: String
        /// Unix seconds after which it no longer authenticates; nil while current.
        public var validUntil: Int64?

        public init(value: String, validUntil: Int64? = nil) {
            self.value = value
            self.validUntil = validUntil
        }
    }

    public struct Client: Sendable {
        public var id: String
        public var secrets: [ClientSecret]
        /// The registered redirect URIs, matched exactly (`RedirectMatching`).
        public var redirectURIs: [String]

        public init(id: String, secrets: [ClientSecret], redirectURIs: [String] = Client.defaultRedirectURIs) {
            self.id = id
            self.secrets = secrets
            self.redirectURIs = redirectURIs
        }

        /// What a sandbox registers unless told otherwise: a pasted-URL login and loopback listeners
        /// (any port, RFC 8252 §7.3).
        public static let defaultRedirectURIs = [
            "https://localhost/callback", "http://127.0.0.1/callback", "http://127.0.0.1/cb", "http://[::1]/callback",
        ]
    }

    struct User: Sendable {
        var xid: String
        var revoked = false
    }

    public struct GrantRecord: Sendable {
        public var user: String
        public var client: String
        public var accessToken: String
        public var accessExpiresAt: Int64
        public var refreshToken: String
        public var scope: String
    }

    struct PendingCode: Sendable {
        var client: String
        var user: String
        var redirectURI: String
        var scope: String
        var challenge: String?
        var expiresAt: Int64
    }

    public struct Settings: Sendable, Codable {
        public init(
            rotateRefreshTokens: Bool = false, accessTokenLifetime: Int64 = 31_536_000, deny: Bool = false,
            errorsWith200: Bool = false, revokeFamilyOnReuse: Bool = false, deviceInterval: Int64 = 5,
            deviceCodeLifetime: Int64 = 600, rateLimit: Int = 0
        ) {
            self.deviceInterval = deviceInterval
            self.deviceCodeLifetime = deviceCodeLifetime
            self.rateLimit = rateLimit
            self.rotateRefreshTokens = rotateRefreshTokens
            self.revokeFamilyOnReuse = revokeFamilyOnReuse
            self.accessTokenLifetime = accessTokenLifetime
            self.deny = deny
            self.errorsWith200 = errorsWith200
        }

        public var rotateRefreshTokens = false
        public var accessTokenLifetime: Int64 = 31_536_000
        public var deny = false
        /// Token endpoint errors answered with HTTP 200 (as some Jawbone-era clients had to expect).
        public var errorsWith200 = false
        /// A consumed refresh token presented again revokes the whole grant (RFC 9700 §4.14.2): its current
        /// refresh and access tokens stop working, as providers that detect replay do.
        public var revokeFamilyOnReuse = false
        /// The polling interval a device authorization answer names (RFC 8628), in seconds.
        public var deviceInterval: Int64 = 5
        /// How long a device code lives, in seconds.
        public var deviceCodeLifetime: Int64 = 600
        /// Token and revocation requests per second the client may send (a sliding second); beyond it,
        /// 429 with Retry-After. 0: no limit.
        public var rateLimit = 0

        enum CodingKeys: String, CodingKey {
            case deny
            case deviceInterval = "device_interval"
            case deviceCodeLifetime = "device_code_lifetime"
            case rateLimit = "rate_limit"
            case revokeFamilyOnReuse = "revoke_family_on_reuse"
            case rotateRefreshTokens = "rotate_refresh_tokens"
            case accessTokenLifetime = "access_token_lifetime"
            case errorsWith200 = "errors_with_200"
        }
    }

    public struct Faults: Sendable, Codable {
        public init(
            serverErrorRate: Double = 0, dropRate: Double = 0, rateLimitRate: Double = 0, retryAfter: Int = 1,
            latencyMilliseconds: Int = 0, error200Rate: Double = 0
        ) {
            self.serverErrorRate = serverErrorRate
            self.dropRate = dropRate
            self.rateLimitRate = rateLimitRate
            self.retryAfter = retryAfter
            self.latencyMilliseconds = latencyMilliseconds
            self.error200Rate = error200Rate
        }

        public var serverErrorRate = 0.0
        public var dropRate = 0.0
        public var rateLimitRate = 0.0
        public var retryAfter = 1
        public var latencyMilliseconds = 0
        /// Token requests answered `{"error": "temporarily_unavailable"}` with HTTP 200.
        public var error200Rate = 0.0
        /// Refresh requests beyond this many (counted since start) wait, unanswered, until it is set to 0
        /// or raised: a test kills a client mid-run at a point the provider proves. 0: off.
        public var holdAfter = 0
        /// The next this many device polls are answered `slow_down` (the interval then grows by 5 s, and
        /// a client that does not wait longer is told `slow_down` again). 0: off.
        public var slowDownPolls = 0

        enum CodingKeys: String, CodingKey {
            case slowDownPolls = "slow_down_polls"
            case serverErrorRate = "server_error_rate"
            case dropRate = "drop_rate"
            case rateLimitRate = "rate_limit_rate"
            case retryAfter = "retry_after"
            case latencyMilliseconds = "latency_ms"
            case error200Rate = "error_200_rate"
            case holdAfter = "hold_after"
        }
    }

    public struct Statistics: Sendable, Codable {
        public var tokenRequests = 0
        public var authorizationCodeGrants = 0
        public var refreshGrants = 0
        public var refreshesSucceeded = 0
        /// Refresh requests that presented a refresh token already consumed by rotation.
        public var consumedRefreshTokenReuses = 0
        /// Grants revoked because a consumed refresh token of theirs came back.
        public var familiesRevoked = 0
        public var invalidClient = 0
        public var apiRequests = 0
        public var unauthorizedAPIRequests = 0
        public var faultsInjected = 0
        public var clientCredentialsGrants = 0
        public var deviceAuthorizations = 0
        public var devicePolls = 0
        public var slowDowns = 0
        public var revocationRequests = 0
        /// Revocations that ended a live token; requests for tokens already revoked or unknown are
        /// `revocationRepeats` (answered 200, as RFC 7009 §2.2 says).
        public var tokensRevoked = 0
        public var revocationRepeats = 0
        /// Requests answered 429 by the `rate_limit` setting.
        public var rateLimited = 0

        enum CodingKeys: String, CodingKey {
            case clientCredentialsGrants = "client_credentials_grants"
            case deviceAuthorizations = "device_authorizations"
            case devicePolls = "device_polls"
            case slowDowns = "slow_downs"
            case revocationRequests = "revocation_requests"
            case tokensRevoked = "tokens_revoked"
            case revocationRepeats = "revocation_repeats"
            case rateLimited = "rate_limited"
            case tokenRequests = "token_requests"
            case authorizationCodeGrants = "authorization_code_grants"
            case refreshGrants = "refresh_grants"
            case refreshesSucceeded = "refreshes_succeeded"
            case consumedRefreshTokenReuses = "consumed_refresh_token_reuses"
            case familiesRevoked = "families_revoked"
            case invalidClient = "invalid_client"
            case apiRequests = "api_requests"
            case unauthorizedAPIRequests = "unauthorized_api_requests"
            case faultsInjected = "faults_injected"
        }
    }

    struct State: Sendable {
        var client: Client
        var users: [String: User] = [:]
        var grants: [Int: GrantRecord] = [:]
        var grantByUser: [String: Int] = [:]
        var byAccessToken: [String: Int] = [:]
        var byRefreshToken: [String: Int] = [:]
        /// Refresh tokens consumed by rotation, and the grant each belonged to.
        var consumedRefreshTokens: [String: Int] = [:]
        var codes: [String: PendingCode] = [:]
        /// The public client's id: no secret; PKCE required.
        var publicClientID: String
        var deviceCodes: [String: DeviceCode] = [:]
        var deviceCodeByUserCode: [String: String] = [:]
        /// Client-credentials tokens and their expiry.
        var appTokens: [String: Int64] = [:]
        var revocations: [Revocation] = []
        /// When accepted token and revocation requests arrived (milliseconds since start), for the rate
        /// limit and for tests of pacing.
        var requestTimes: [Int64] = []
        var nextGrant = 1
        var nextUser = 1
        var settings = Settings()
        var faults = Faults()
        var statistics = Statistics()

        /// `user` as given, or a new `userN`.
        mutating func userID(_ user: String?) -> String {
            if let user { return user }
            defer { nextUser += 1 }
            return "user\(nextUser)"
        }
    }

    let state: Mutex<State>

    public init(
        client: Client, publicClientID: String = "sandbox-public", settings: Settings = Settings(),
        faults: Faults = Faults()
    ) {
        var initial = State(client: client, publicClientID: publicClientID)
        initial.settings = settings
        initial.faults = faults
        state = Mutex(initial)
    }

    static func now() -> Int64 { Int64(time(nil)) }

    public static func token() -> String { Base64URL.randomToken(byteCount: 24) }

    // MARK: Clients

    /// Whether `secret` authenticates the client now (current, or inside a grace window).
    static func accepts(_ client: Client, id: String, secret: String, at now: Int64) -> Bool {
        guard ConstantTime.equals(id, client.id) else { return false }
        return client.secrets.contains { ($0.validUntil ?? Int64.max) > now && ConstantTime.equals($0.value, secret) }
    }

    /// A new secret becomes current; the others stay valid for `grace` seconds more (at most).
    public func rotateSecret(grace: Int64) -> (secret: String, oldValidUntil: Int64) {
        let now = Self.now()
        let fresh = Self.token()
        return state.withLock { state in
            for index in state.client.secrets.indices {
                let until = state.client.secrets[index].validUntil ?? Int64.max
                state.client.secrets[index].validUntil = min(until, now + grace)
            }
            state.client.secrets.insert(ClientSecret(value: fresh, validUntil: nil), at: 0)
            return (fresh, now + grace)
        }
    }

    /// The grace window ends now: only the current secret authenticates.
    public func endGrace() {
        let now = Self.now()
        state.withLock { state in
            for index in state.client.secrets.indices where state.client.secrets[index].validUntil != nil {
                state.client.secrets[index].validUntil = now - 1
            }
        }
    }

    // MARK: Grants

    /// Issues fresh tokens to `user` (a new user when nil), replacing that user's earlier grant.
    func issueGrant(user: String?, scope: String, client: String? = nil, state: inout State) -> GrantRecord {
        let xid = state.userID(user)
        if state.users[xid] == nil { state.users[xid] = User(xid: xid) }
        if let old = state.grantByUser[xid], let record = state.grants[old] {
            state.byAccessToken[record.accessToken] = nil
            state.byRefreshToken[record.refreshToken] = nil
            state.grants[old] = nil
        }
        let id = state.nextGrant
        state.nextGrant += 1
        let record = GrantRecord(
            user: xid, client: client ?? state.client.id, accessToken: Self.token(),
            accessExpiresAt: Self.now() + state.settings.accessTokenLifetime, refreshToken: Self.token(), scope: scope)
        state.grants[id] = record
        state.grantByUser[xid] = id
        state.byAccessToken[record.accessToken] = id
        state.byRefreshToken[record.refreshToken] = id
        return record
    }

    /// Seeds `count` new users with grants, as if each had logged in.
    public func seed(count: Int) -> [GrantRecord] {
        state.withLock { state in
            (0..<count).map { _ in issueGrant(user: nil, scope: "basic_read move_read", state: &state) }
        }
    }

    /// The grant an access token belongs to, if the token is current and the user has not revoked.
    func grant(forAccessToken token: String) -> GrantRecord? {
        state.withLock { state in
            guard let id = state.byAccessToken[token], let record = state.grants[id],
                record.accessExpiresAt > Self.now(), state.users[record.user]?.revoked != true
            else { return nil }
            return record
        }
    }

    /// The 2014-04-25 event: every access token stops working (refresh tokens survive).
    public func invalidateAccessTokens() -> Int {
        state.withLock { state in
            let count = state.byAccessToken.count
            state.byAccessToken.removeAll()
            return count
        }
    }

    /// Makes one user's access token (or every one) expired.
    public func expireAccessTokens(user: String?) {
        state.withLock { state in
            for (id, record) in state.grants where user == nil || record.user == user {
                state.grants[id]?.accessExpiresAt = Self.now() - 1
            }
        }
    }

    public func revoke(user: String) -> Bool {
        state.withLock { state in
            guard state.users[user] != nil else { return false }
            state.users[user]?.revoked = true
            return true
        }
    }

    public var statistics: Statistics { state.withLock { $0.statistics } }

    /// The registered client's id.
    public var clientID: String { state.withLock { $0.client.id } }

    /// A kiefer config.json with this client and one seeded user's tokens: what a kiefer user had.
    public func kieferConfig(secret: String, redirectURI: String, grant: GrantRecord) -> String {
        let json: JSON = [
            "client_id": .string(clientID), "client_secret": .string(secret), "redirect_uri": .string(redirectURI),
            "scope": [.string("basic_read"), .string("move_read")], "access_token": .string(grant.accessToken),
            "refresh_token": .string(grant.refreshToken),
        ]
        return json.serialized + "\n"
    }

    /// Waits while the `hold_after` fault holds refresh (or revocation) requests (see `Faults.holdAfter`).
    func holdIfAsked(revocations: Bool = false) async {
        while true {
            let held = state.withLock { state in
                let count = revocations ? state.statistics.revocationRequests : state.statistics.refreshGrants
                return state.faults.holdAfter > 0 && count >= state.faults.holdAfter
            }
            guard held else { return }
            try? await Task.sleep(for: .milliseconds(5))
        }
    }
}
