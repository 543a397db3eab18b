import Hummingbird
import Synchronization
import UPVault

#if canImport(Glibc)
import Glibc
#endif

extension Provider {
    /// A device login in progress (RFC 8628).
    struct DeviceCode: Sendable {
        enum Decision: Sendable {
            case pending
            case approved(user: String?)
            case denied
        }
        var client: String
        var userCode: String
        var scope: String
        var expiresAt: Int64
        var interval: Int64
        var decision = Decision.pending
        /// When the client last polled (milliseconds), to answer `slow_down` to one that polls too fast.
        var lastPoll: Int64?
    }

    enum DevicePoll {
        case tokens(GrantRecord, expiresIn: Int64)
        case error(String, String)

        func outcome(_ status: (Int) -> Int) -> TokenOutcome {
            switch self {
            case .tokens(let record, let expiresIn):
                .tokens(access: record.accessToken, refresh: record.refreshToken, expiresIn: expiresIn)
            case .error(let code, let description): .error(code: code, description: description, status: status(400))
            }
        }
    }

    /// Milliseconds on a monotonic clock.
    static func milliseconds() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return Int64(now.tv_sec) * 1000 + Int64(now.tv_nsec) / 1_000_000
    }

    /// A new device code for `client` (already authenticated): what the device endpoint answers.
    func startDeviceLogin(client: String, scope: String?) -> (deviceCode: String, userCode: String, DeviceCode) {
        let now = Self.now()
        return state.withLock { state in
            state.statistics.deviceAuthorizations += 1
            let alphabet = Array("BCDFGHJKLMNPQRSTVWXZ")  // no vowels: no words (RFC 8628 §6.1)
            var userCode = ""
            repeat {
                let bytes = Array(Self.token().utf8)  // random Base64URL characters
                userCode =
                    String(bytes.prefix(4).map { alphabet[Int($0) % alphabet.count] }) + "-"
                    + String(bytes.suffix(4).map { alphabet[Int($0) % alphabet.count] })
            } while state.deviceCodeByUserCode[userCode] != nil
            let deviceCode = Self.token()
            let entry = DeviceCode(
                client: client, userCode: userCode, scope: scope ?? "basic_read",
                expiresAt: now + state.settings.deviceCodeLifetime, interval: state.settings.deviceInterval)
            state.deviceCodes[deviceCode] = entry
            state.deviceCodeByUserCode[userCode] = deviceCode
            return (deviceCode, userCode, entry)
        }
    }

    /// The user at the verification page approves (as `user`, a new user when nil) or denies. False
    /// when there is no such pending code.
    public func decideDeviceLogin(userCode: String, approve: Bool, user: String?) -> Bool {
        state.withLock { state in
            guard let code = state.deviceCodeByUserCode[userCode.uppercased()],
                let entry = state.deviceCodes[code], case .pending = entry.decision
            else { return false }
            state.deviceCodes[code]?.decision = approve ? .approved(user: user) : .denied
            return true
        }
    }

    /// One poll of the token endpoint with a device code (RFC 8628 §3.5).
    func pollDevice(code: String?, client: String, at now: Int64, state: inout State) -> DevicePoll {
        state.statistics.devicePolls += 1
        guard let code, let entry = state.deviceCodes[code], entry.client == client else {
            return .error("invalid_grant", "Unknown device code")
        }
        guard now < entry.expiresAt else {
            state.deviceCodes[code] = nil
            state.deviceCodeByUserCode[entry.userCode] = nil
            return .error("expired_token", "The device code has expired")
        }
        let clock = Self.milliseconds()
        state.deviceCodes[code]?.lastPoll = clock
        // Half a second of slack: the client's sleep and this clock need not agree to the millisecond.
        let tooFast = entry.lastPoll.map { clock - $0 < entry.interval * 1000 - 500 } ?? false
        if tooFast || state.faults.slowDownPolls > 0 {
            if !tooFast { state.faults.slowDownPolls -= 1 }
            state.statistics.slowDowns += 1
            state.deviceCodes[code]?.interval += 5
            return .error("slow_down", "Polling too fast")
        }
        switch entry.decision {
        case .pending:
            return .error("authorization_pending", "The user has not yet approved")
        case .denied:
            state.deviceCodes[code] = nil
            state.deviceCodeByUserCode[entry.userCode] = nil
            return .error("access_denied", "The user denied the request")
        case .approved(let user):
            state.deviceCodes[code] = nil
            state.deviceCodeByUserCode[entry.userCode] = nil
            let record = issueGrant(user: user, scope: entry.scope, client: client, state: &state)
            return .tokens(record, expiresIn: state.settings.accessTokenLifetime)
        }
    }
}

/// `POST /auth/oauth2/device` (RFC 8628 §3.1) and the verification page the user is sent to (which,
/// in a sandbox, only says to approve through `/admin/device`).
func addDeviceRoutes(to router: Router<SandboxContext>, provider: Provider) {
    router.post(RouterPath(stringLiteral: Paths.device)) { request, context -> Response in
        if let fault = try await injectFault(provider: provider, context: context, tokenEndpoint: false) {
            return fault
        }
        let parameters = try await TokenParameters.read(from: request)
        guard let client = provider.authenticate(parameters) else { return Answer.invalidClient.response }
        let (deviceCode, userCode, entry) = provider.startDeviceLogin(client: client, scope: parameters.scope)
        let base = "http://\(request.head.authority ?? "127.0.0.1")"
        return Response.json(
            [
                "device_code": .string(deviceCode), "user_code": .string(userCode),
                "verification_uri": .string(base + Paths.verification),
                "verification_uri_complete": .string(base + Paths.verification + "?user_code=" + userCode),
                "expires_in": .number(entry.expiresAt - Provider.now()), "interval": .number(entry.interval),
            ], status: .ok)
    }
    router.get(RouterPath(stringLiteral: Paths.verification)) { _, _ -> Response in
        Response.text(
            "upvault-sandbox: approve with 'upvault-sandbox admin URL device user_code=CODE action=approve'\n",
            status: .ok)
    }
}
