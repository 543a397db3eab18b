import FoundationEssentials
import Logging
public import UPVault

/// The body and status of an API response.
public struct APIResponse: Sendable {
    public let status: Int
    public let body: [UInt8]
}

extension OAuthClient {
    /// API responses may be large lists; 16 MiB is the bound.
    static let maximumAPIResponseBytes = 16 << 20

    /// An authorized request to the app's API: `path` is relative to the API base, `fields` go in the
    /// query (GET, DELETE) or a form body (POST, PUT). On 401 the grant is refreshed once and the request
    /// retried. A non-2xx answer throws `apiStatus` carrying the body.
    public func request(
        app appName: String, user: String, method: String, path: String, fields: [(String, String)] = []
    ) async throws(OAuthError) -> APIResponse {
        let app = try app(named: appName)
        let method = method.uppercased()
        guard ["GET", "POST", "PUT", "DELETE", "PATCH"].contains(method) else {
            throw .invalidArgument("unsupported HTTP method \(method)")
        }
        guard let base = app.endpoints.apiBase else { throw .unsupported("app \(app.name) has no API base URL") }
        let url = try Self.apiURL(base: base, path: path)
        var grant = try grant(app: appName, user: user)
        try Self.requireActive(grant)
        if !grant.isFresh(at: now(), margin: 60) {
            grant = try await refresh(grant, unless: { $0.isFresh(at: self.now(), margin: 60) })
        }
        var result = try await transport.send(Self.apiExchange(method: method, url: url, fields: fields, grant: grant))
        if result.status == 401 {
            logger.info("API said 401; refreshing once", metadata: ["grant": "\(grant.entryName)"])
            grant = try await refresh(grant, unless: { _ in false })
            result = try await transport.send(Self.apiExchange(method: method, url: url, fields: fields, grant: grant))
        }
        guard (200..<300).contains(result.status) else {
            if result.status == 429 || result.status >= 500 { throw ProviderJSON.statusError(result) }
            throw .apiStatus(httpStatus: result.status, body: result.body)
        }
        return APIResponse(status: result.status, body: result.body)
    }

    /// Jawbone's `POST users/@me/refreshToken`: the user's refresh token, from a valid access token and
    /// the client secret. Stores it in the grant.
    @discardableResult
    public func recoverRefreshToken(app appName: String, user: String) async throws(OAuthError) -> Grant {
        let app = try app(named: appName)
        guard let endpoint = app.endpoints.refreshTokenRecovery else {
            throw .unsupported("app \(app.name)'s provider has no refresh-token recovery endpoint")
        }
        try EndpointPolicy.check(endpoint)
        let grant = try grant(app: appName, user: user)
        guard let secret = app.currentSecret else { throw .invalidClient(app: app.name, reason: "no client secret") }
        let exchange = HTTPExchange(
            method: "POST", url: endpoint,
            headers: [
                ("Authorization", "Bearer \(grant.accessToken)"), ("Accept", "application/json"),
                ("Content-Type", "application/x-www-form-urlencoded"),
            ],
            body: FormEncoding.encodedBytes([("secret", secret.value)]))
        let result = try await transport.send(exchange)
        let envelope = try ProviderJSON.decode(RefreshTokenEnvelope.self, from: result)
        guard (200..<300).contains(result.status), let token = envelope.data?.refreshToken else {
            if result.status == 401 {
                throw .grantNotActive(
                    grant: grant.entryName, status: .needsReauthorization, reason: "the access token is no longer valid"
                )
            }
            if result.status == 429 || result.status >= 500 { throw ProviderJSON.statusError(result) }
            throw .unexpectedResponse(
                httpStatus: result.status,
                reason: OAuthError.sanitized(envelope.meta?.errorDetail ?? "no refresh_token in data"))
        }
        try TokenResponse.checkToken(token, field: "refresh_token", status: result.status)
        let key = EntryKey(.grant, grant.entryName)
        do {
            return try await vault.withEntryLock(key) {
                var current = try self.grant(app: appName, user: user)
                current.refreshToken = token
                try self.store(current)
                return current
            }
        } catch {
            throw Self.oauthError(error)
        }
    }

    /// `base` joined with a relative `path`: never a second scheme or host (the bearer token must go
    /// to the app's API and nowhere else), no double slash, no dot segments, no control characters.
    static func apiURL(base: String, path: String) throws(OAuthError) -> String {
        try EndpointPolicy.check(base)
        let trimmed = path.drop { $0 == "/" }
        guard !trimmed.isEmpty, !path.hasPrefix("//"), trimmed.count <= 2048,
            !trimmed.contains("://"), !trimmed.contains("#"),
            trimmed.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value < 0x7F && $0 != "\\" })
        else { throw .invalidArgument("the API path must be a relative path such as users/@me") }
        let segments = trimmed.prefix { $0 != "?" }.split(separator: "/", omittingEmptySubsequences: false)
        // A server decodes %2e before it resolves dot segments: compare the decoded segment.
        let decoded = segments.map { $0.lowercased().replacing("%2e", with: ".") }
        guard !decoded.contains(where: { $0 == ".." || $0 == "." || $0.isEmpty }) else {
            throw .invalidArgument("the API path must not contain empty, '.' or '..' segments")
        }
        let root = base.hasSuffix("/") ? base : base + "/"
        return root + trimmed
    }

    static func apiExchange(method: String, url: String, fields: [(String, String)], grant: Grant) -> HTTPExchange {
        var headers = [("Authorization", "Bearer \(grant.accessToken)"), ("Accept", "application/json")]
        var url = url
        var body: [UInt8]?
        if !fields.isEmpty {
            if method == "GET" || method == "DELETE" {
                url += (url.contains("?") ? "&" : "?") + FormEncoding.encode(fields)
            } else {
                headers.append(("Content-Type", "application/x-www-form-urlencoded"))
                body = FormEncoding.encodedBytes(fields)
            }
        }
        return HTTPExchange(
            method: method, url: url, headers: headers, body: body, maximumResponseBytes: maximumAPIResponseBytes)
    }
}

/// Jawbone's envelope around `{"refresh_token": ...}`.
struct RefreshTokenEnvelope: Decodable {
    struct Meta: Decodable {
        var errorDetail: String?
        enum CodingKeys: String, CodingKey { case errorDetail = "error_detail" }
    }
    struct Payload: Decodable {
        var refreshToken: String?
        enum CodingKeys: String, CodingKey { case refreshToken = "refresh_token" }
    }
    var meta: Meta?
    var data: Payload?
}
