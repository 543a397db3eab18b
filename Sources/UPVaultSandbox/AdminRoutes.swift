import FoundationEssentials
import HTTPTypes
import Hummingbird
import Synchronization
import UPVault

/// The switches, on `/admin/...`, answered only to loopback peers that present the admin token and name
/// the loopback address in `Host` (`AdminGuard`). Parameters go in the query string.
///
/// - `GET  /admin/client`: the client id and its current secret (a sandbox has no secrets worth keeping).
/// - `GET  /admin/stats`: request counters.
/// - `POST /admin/rotate-secret?grace=SECONDS`: a new current secret; the old ones end after the grace.
/// - `POST /admin/end-grace`: only the current secret authenticates from now on.
/// - `POST /admin/invalidate-access-tokens`: the 2014-04-25 event.
/// - `POST /admin/expire-access-tokens[?user=XID]`: access tokens past their expiry (API answers 401).
/// - `POST /admin/revoke?user=XID`: the user removes the app (refresh answers access_denied).
/// - `POST /admin/settings?rotate_refresh_tokens=1&revoke_family_on_reuse=1&deny=0&errors_with_200=0&access_token_lifetime=S`
/// - `POST /admin/faults?server_error_rate=0.1&drop_rate=0.02&rate_limit_rate=0.01&retry_after=1&latency_ms=0&error_200_rate=0&hold_after=0&slow_down_polls=0`
/// - `POST /admin/seed?count=N`: N new users with grants, returned as a JSON array.
/// - `POST /admin/device?user_code=CODE&action=approve|deny[&user=XID]`: the user's decision on a device login.
/// - `GET  /admin/revocations`: the revocation log (user, kind, at), oldest first.
/// - settings also take `device_interval=S`, `device_code_lifetime=S` and `rate_limit=N` (requests/s, 0 off).
func addAdminRoutes(to router: Router<SandboxContext>, provider: Provider, token: String) {
    let admin = router.group("admin").add(middleware: AdminGuard(token: token))

    admin.get("client") { _, _ -> Response in
        let client = provider.state.withLock { $0.client }
        return Response.json(
            ["client_id": .string(client.id), "client_secret": .string(client.secrets.first?.value ?? "")], status: .ok)
    }
    admin.get("stats") { _, _ -> Response in
        guard case .object(var fields) = try statisticsJSON(provider.statistics) else {
            return Response.json([:], status: .internalServerError)
        }
        fields["busiest_second"] = .number(Int64(provider.busiestSecond))
        return Response.json(.object(fields), status: .ok)
    }
    admin.get("revocations") { _, _ -> Response in
        let log = provider.revocations.map { entry -> JSON in
            ["user": .string(entry.user), "kind": .string(entry.kind), "at": .number(entry.at)]
        }
        return Response.json(.array(log), status: .ok)
    }
    admin.post("device") { request, _ -> Response in
        let query = request.uri.queryParameters
        guard let code = query.get("user_code"), let action = query.get("action"), ["approve", "deny"].contains(action)
        else { return Response.json(["error": .string("user_code and action=approve|deny")], status: .badRequest) }
        guard provider.decideDeviceLogin(userCode: code, approve: action == "approve", user: query.get("user")) else {
            return Response.json(["error": .string("no pending device login with that code")], status: .notFound)
        }
        return Response.json(["ok": .bool(true)], status: .ok)
    }
    admin.post("rotate-secret") { request, _ -> Response in
        let grace = Int64(request.uri.queryParameters.get("grace") ?? "") ?? 14 * 86_400
        let (secret, until) = provider.rotateSecret(grace: grace)
        return Response.json(["client_secret": .string(secret), "previous_valid_until": .number(until)], status: .ok)
    }
    admin.post("end-grace") { _, _ -> Response in
        provider.endGrace()
        return Response.json(["ok": .bool(true)], status: .ok)
    }
    admin.post("invalidate-access-tokens") { _, _ -> Response in
        Response.json(["invalidated": .number(Int64(provider.invalidateAccessTokens()))], status: .ok)
    }
    admin.post("expire-access-tokens") { request, _ -> Response in
        provider.expireAccessTokens(user: request.uri.queryParameters.get("user"))
        return Response.json(["ok": .bool(true)], status: .ok)
    }
    admin.post("revoke") { request, _ -> Response in
        guard let user = request.uri.queryParameters.get("user"), provider.revoke(user: user) else {
            return Response.json(["error": .string("no such user")], status: .notFound)
        }
        return Response.json(["ok": .bool(true)], status: .ok)
    }
    admin.post("settings") { request, _ -> Response in
        let query = request.uri.queryParameters
        provider.state.withLock { state in
            if let value = query.get("rotate_refresh_tokens") {
                state.settings.rotateRefreshTokens = value == "1" || value == "true"
            }
            if let value = query.get("deny") { state.settings.deny = value == "1" || value == "true" }
            if let value = query.get("revoke_family_on_reuse") {
                state.settings.revokeFamilyOnReuse = value == "1" || value == "true"
            }
            if let value = query.get("errors_with_200") {
                state.settings.errorsWith200 = value == "1" || value == "true"
            }
            if let value = query.get("access_token_lifetime").flatMap({ Int64($0) }) {
                state.settings.accessTokenLifetime = value
            }
            if let value = query.get("device_interval").flatMap({ Int64($0) }) { state.settings.deviceInterval = value }
            if let value = query.get("device_code_lifetime").flatMap({ Int64($0) }) {
                state.settings.deviceCodeLifetime = value
            }
            if let value = query.get("rate_limit").flatMap({ Int($0) }) { state.settings.rateLimit = max(0, value) }
        }
        return Response.json(["ok": .bool(true)], status: .ok)
    }
    admin.post("faults") { request, _ -> Response in
        let query = request.uri.queryParameters
        provider.state.withLock { state in
            if let value = query.get("server_error_rate").flatMap({ Double($0) }) {
                state.faults.serverErrorRate = value
            }
            if let value = query.get("drop_rate").flatMap({ Double($0) }) { state.faults.dropRate = value }
            if let value = query.get("rate_limit_rate").flatMap({ Double($0) }) { state.faults.rateLimitRate = value }
            if let value = query.get("retry_after").flatMap({ Int($0) }) { state.faults.retryAfter = value }
            if let value = query.get("latency_ms").flatMap({ Int($0) }) { state.faults.latencyMilliseconds = value }
            if let value = query.get("error_200_rate").flatMap({ Double($0) }) { state.faults.error200Rate = value }
            if let value = query.get("hold_after").flatMap({ Int($0) }) { state.faults.holdAfter = max(0, value) }
            if let value = query.get("slow_down_polls").flatMap({ Int($0) }) {
                state.faults.slowDownPolls = max(0, value)
            }
        }
        return Response.json(["ok": .bool(true)], status: .ok)
    }
    admin.post("seed") { request, _ -> Response in
        let count = min(Int(request.uri.queryParameters.get("count") ?? "") ?? 1, 2_000_000)
        let lifetime = provider.state.withLock { $0.settings.accessTokenLifetime }
        let grants = provider.seed(count: count).map { record -> JSON in
            [
                "user": .string(record.user), "access_token": .string(record.accessToken),
                "refresh_token": .string(record.refreshToken), "expires_in": .number(lifetime),
            ]
        }
        return Response.json(.array(grants), status: .ok)
    }
}

func statisticsJSON(_ statistics: Provider.Statistics) throws -> JSON {
    let data = try JSONEncoder().encode(statistics)
    let object = try JSONDecoder().decode([String: Int64].self, from: data)
    return .object(object.mapValues { .number($0) })
}

/// Refuses an admin request unless it comes from a loopback peer, names a loopback address and this
/// server's port in `Host` (a DNS-rebinding page names its own host), and carries the admin token (which
/// a cross-site page cannot add without a CORS preflight the sandbox never answers).
struct AdminGuard: RouterMiddleware {
    typealias Context = SandboxContext
    let token: String

    func handle(
        _ request: Request, context: SandboxContext, next: (Request, SandboxContext) async throws -> Response
    ) async throws -> Response {
        guard context.isLoopbackPeer else { return Response.text("admin is loopback only", status: .forbidden) }
        guard let host = request.head.authority, Self.isLoopbackHost(host, port: context.localPort) else {
            return Response.text("admin answers only Host: 127.0.0.1:PORT or localhost:PORT", status: .forbidden)
        }
        guard let presented = request.headers[HTTPField.Name(AdminToken.headerName)!],
            ConstantTime.equals(presented, token)
        else { return Response.text("admin needs the \(AdminToken.headerName) header", status: .unauthorized) }
        return try await next(request, context)
    }

    static func isLoopbackHost(_ host: String, port: Int?) -> Bool {
        guard let port else { return false }
        return ["127.0.0.1:\(port)", "localhost:\(port)", "[::1]:\(port)"].contains(host.lowercased())
    }
}
