/// An OAuth 2.0 client registration: who the app is at the provider, and how to reach the provider.
public struct App: CodableEntry, Equatable {
    public static let kind = EntryKind.app

    /// How the client authenticates at the token endpoint.
    public enum ClientAuthentication: String, Codable, Sendable {
        /// `client_id` and `client_secret` as form parameters (what Jawbone did).
        case clientSecretPost = "client_secret_post"
        /// HTTP Basic with `client_id:client_secret`.
        case clientSecretBasic = "client_secret_basic"
        /// A public client (RFC 6749 §2.1): `client_id` only, no secret; PKCE protects its logins.
        case none
    }

    /// The provider's endpoints.
    public struct Endpoints: Codable, Sendable, Equatable {
        /// The authorization endpoint; nil for a provider that offers no authorization-code login
        /// (device flow or client credentials only).
        public var authorize: String?
        public var token: String
        public var apiBase: String?
        /// Jawbone's `users/@me/refreshToken`, where a provider has such a thing.
        public var refreshTokenRecovery: String?
        /// RFC 7009 token revocation.
        public var revocation: String?
        /// RFC 8628 device authorization.
        public var deviceAuthorization: String?
        /// The issuer the endpoints were discovered from (RFC 8414), when they were.
        public var issuer: String?

        public init(
            authorize: String?, token: String, apiBase: String? = nil, refreshTokenRecovery: String? = nil,
            revocation: String? = nil, deviceAuthorization: String? = nil, issuer: String? = nil
        ) {
            self.authorize = authorize
            self.token = token
            self.apiBase = apiBase
            self.refreshTokenRecovery = refreshTokenRecovery
            self.revocation = revocation
            self.deviceAuthorization = deviceAuthorization
            self.issuer = issuer
        }

        /// Every endpoint that is set, for checks that apply to all of them.
        public var all: [String] {
            [authorize, token, apiBase, refreshTokenRecovery, revocation, deviceAuthorization].compactMap { $0 }
        }

        enum CodingKeys: String, CodingKey {
            case authorize, token, revocation, issuer
            case apiBase = "api_base"
            case refreshTokenRecovery = "refresh_token_recovery"
            case deviceAuthorization = "device_authorization"
        }
    }

    /// A client secret with its life: the current one first, older ones kept during a grace window.
    public struct ClientSecret: Codable, Sendable, Equatable {
        public var value: String
        /// Unix seconds.
        public var addedAt: Int64
        /// Unix seconds after which the provider no longer accepts it; nil while current.
        public var validUntil: Int64?

        public init(value: String, addedAt: Int64, validUntil: Int64? = nil) {
            self.value = value
            self.addedAt = addedAt
            self.validUntil = validUntil
        }

        enum CodingKeys: String, CodingKey {
            case value
            case addedAt = "added_at"
            case validUntil = "valid_until"
        }
    }

    public var name: String
    /// A provider preset name ("jawbone") or "generic".
    public var provider: String
    public var clientID: String
    public var clientSecrets: [ClientSecret]
    public var redirectURI: String
    public var scopes: [String]
    public var endpoints: Endpoints
    public var clientAuthentication: ClientAuthentication
    public var supportsPKCE: Bool
    public var rotatesRefreshTokens: Bool
    /// The most requests per second upvault sends this app's provider in a bulk run; nil: no limit.
    public var rateLimit: Double?

    public var entryName: String { name }

    /// A public client: no secret, never sends one (RFC 6749 §2.1).
    public var isPublic: Bool { clientAuthentication == .none }

    public init(
        name: String, provider: String, clientID: String, clientSecrets: [ClientSecret], redirectURI: String,
        scopes: [String], endpoints: Endpoints, clientAuthentication: ClientAuthentication = .clientSecretPost,
        supportsPKCE: Bool = false, rotatesRefreshTokens: Bool = false, rateLimit: Double? = nil
    ) {
        self.name = name
        self.provider = provider
        self.clientID = clientID
        self.clientSecrets = clientSecrets
        self.redirectURI = redirectURI
        self.scopes = scopes
        self.endpoints = endpoints
        self.clientAuthentication = clientAuthentication
        self.supportsPKCE = supportsPKCE
        self.rotatesRefreshTokens = rotatesRefreshTokens
        self.rateLimit = rateLimit
    }

    enum CodingKeys: String, CodingKey {
        case name, provider, scopes, endpoints
        case clientID = "client_id"
        case clientSecrets = "client_secrets"
        case redirectURI = "redirect_uri"
        case clientAuthentication = "client_authentication"
        case supportsPKCE = "supports_pkce"
        case rotatesRefreshTokens = "rotates_refresh_tokens"
        case rateLimit = "rate_limit"
    }
}

extension App.ClientSecret {
    /// A short public name for a secret: the first 8 bytes, in hex, of SHA-256(client_id ‖ secret), the
    /// hash Jawbone put in its webhook notifications. Safe to print; changes with the secret.
    public func fingerprint(clientID: String) -> String {
        Hex.lowercase(SHA256.hash(Array(clientID.utf8) + Array(value.utf8)).prefix(8))
    }
}

extension App {
    /// The secret used for every token request: the newest one without an end date.
    public var currentSecret: ClientSecret? {
        clientSecrets.filter { $0.validUntil == nil }.max { $0.addedAt < $1.addedAt } ?? clientSecrets.first
    }

    /// The secrets worth trying at `now`: the current one first, then older ones still inside their
    /// grace window, newest first.
    public func usableSecrets(at now: Int64) -> [ClientSecret] {
        guard let current = currentSecret else { return [] }
        let older = clientSecrets.filter { $0 != current && ($0.validUntil ?? Int64.max) > now }
        return [current] + older.sorted { $0.addedAt > $1.addedAt }
    }

    /// The fingerprint of the current secret, or nil when the app has none.
    public var currentSecretFingerprint: String? {
        currentSecret?.fingerprint(clientID: clientID)
    }
}

extension App {
    /// Where a client secret is in its life.
    public enum SecretState: String, Codable, Sendable {
        /// Used for every token request.
        case current
        /// Tried only when the provider refuses the current one, until its `validUntil`.
        case previous
        /// Its grace window has ended; it is dropped at the next prune.
        case expired
    }

    /// The state of one of this app's secrets at `now`.
    public func state(of secret: ClientSecret, at now: Int64) -> SecretState {
        if secret == currentSecret { return .current }
        if let until = secret.validUntil, until <= now { return .expired }
        return .previous
    }
}
