import HTTPTypes
import Hummingbird
import Synchronization
import UPVault

extension Provider {
    /// One line of the revocation log: which token of which user, and whether it was still live.
    public struct Revocation: Sendable, Codable {
        public var user: String
        /// `refresh_token` (the grant ends: both tokens), `access_token`, or `app_token`.
        public var kind: String
        public var at: Int64

        public init(user: String, kind: String, at: Int64) {
            self.user = user
            self.kind = kind
            self.at = at
        }
    }

    /// RFC 7009 §2.1: revokes `token` for `client`. A refresh token ends its grant (its access token
    /// too); an access token ends alone. An unknown or already revoked token is a repeat: 200 all the
    /// same (§2.2), counted, not logged.
    func revoke(token: String, client: String) {
        let now = Self.now()
        state.withLock { state in
            state.statistics.revocationRequests += 1
            if let id = state.byRefreshToken[token], let record = state.grants[id], record.client == client {
                state.byRefreshToken[token] = nil
                state.byAccessToken[record.accessToken] = nil
                state.grants[id] = nil
                if state.grantByUser[record.user] == id { state.grantByUser[record.user] = nil }
                state.revocations.append(Revocation(user: record.user, kind: "refresh_token", at: now))
                state.statistics.tokensRevoked += 1
            } else if let id = state.byAccessToken[token], let record = state.grants[id], record.client == client {
                state.byAccessToken[token] = nil
                state.revocations.append(Revocation(user: record.user, kind: "access_token", at: now))
                state.statistics.tokensRevoked += 1
            } else if client == state.client.id, state.appTokens.removeValue(forKey: token) != nil {
                state.revocations.append(Revocation(user: client, kind: "app_token", at: now))
                state.statistics.tokensRevoked += 1
            } else {
                state.statistics.revocationRepeats += 1
            }
        }
    }

    /// The revocation log, oldest first.
    public var revocations: [Revocation] { state.withLock { $0.revocations } }
}

/// `POST /auth/oauth2/revoke` (RFC 7009): client authentication as at the token endpoint. Without
/// faults or a hold, `InlineEndpoints` answers it before it reaches the router, with the same answers.
func addRevocationRoutes(to router: Router<SandboxContext>, provider: Provider) {
    router.post(RouterPath(stringLiteral: Paths.revoke)) { request, context -> Response in
        if let fault = try await injectFault(provider: provider, context: context, tokenEndpoint: false) {
            return fault
        }
        if let limited = provider.admit() { return limited.response }
        switch provider.revocationRequest(try await TokenParameters.read(from: request)) {
        case .refuse(let answer):
            return answer.response
        case .revoke(let token, let client):
            await provider.holdIfAsked(revocations: true)
            provider.revoke(token: token, client: client)
            return Answer.ok.response
        }
    }
}

extension Provider {
    /// The `rate_limit` setting: nil when this request may go on (and it is counted), else a 429.
    func admit() -> Answer? {
        let now = Self.milliseconds()
        return state.withLock { state in
            let limit = state.settings.rateLimit
            if limit > 0 {
                let windowStart = now - 1000
                let recent = state.requestTimes.reversed().prefix { $0 > windowStart }.count
                if recent >= limit {
                    state.statistics.rateLimited += 1
                    return .tooManyRequests
                }
            }
            state.requestTimes.append(now)
            return nil
        }
    }

    /// The most requests accepted in any one-second window (sliding), from `requestTimes`.
    public var busiestSecond: Int {
        let times = state.withLock { $0.requestTimes }
        var best = 0
        var start = 0
        for end in times.indices {
            while times[end] - times[start] >= 1000 { start += 1 }
            best = max(best, end - start + 1)
        }
        return best
    }
}

extension Provider {
    /// The client a device or revocation request authenticates as (see `authenticate(_:state:at:)`).
    func authenticate(_ parameters: TokenParameters) -> String? {
        state.withLock { Self.authenticate(parameters, state: $0, at: Self.now()) }
    }
}
